using System.Buffers;

namespace Cache.Engine;

/// <summary>How <see cref="BlockStore.TryWriteValue{TFormat}"/> frames a value it copies out (for example as a RESP bulk string). Implemented by structs, so the calls are static and inlined.</summary>
public interface IValueFormat
{
    /// <summary>The most bytes <see cref="Format"/> adds around a value.</summary>
    static abstract int MaxOverhead { get; }

    /// <summary>Writes the framed value into <paramref name="destination"/> (at least value length + <see cref="MaxOverhead"/> bytes); returns the bytes written.</summary>
    static abstract int Format(ReadOnlySpan<byte> value, Span<byte> destination);

    /// <summary>Writes the framed value to <paramref name="output"/> in as many pieces as it takes (for large values).</summary>
    static abstract void Write(ReadOnlySpan<byte> value, IBufferWriter<byte> output);
}
