using System.Buffers;

namespace Cache.Dataset;

/// <summary>Passes <c>byte[]</c> samples through unchanged. A read returns a new array, owned by the caller. Thread-safe.</summary>
public sealed class ByteArraySampleSerializer : ISampleSerializer<byte[]>
{
    /// <inheritdoc />
    public void Serialize(byte[] sample, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(output);
        output.Write(sample);
    }

    /// <inheritdoc />
    public byte[] Deserialize(ReadOnlyMemory<byte> data)
    {
        // Every byte is overwritten at once, so the array need not be zeroed first.
        var copy = GC.AllocateUninitializedArray<byte>(data.Length);
        data.Span.CopyTo(copy);
        return copy;
    }
}
