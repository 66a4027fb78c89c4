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

/// <summary>
/// Passes <see cref="ReadOnlyMemory{T}"/> samples through unchanged. A read returns a view of the
/// cache's immutable bytes, without a copy. Thread-safe.
/// </summary>
public sealed class ReadOnlyMemorySampleSerializer : ISampleSerializer<ReadOnlyMemory<byte>>
{
    /// <inheritdoc />
    public void Serialize(ReadOnlyMemory<byte> sample, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        output.Write(sample.Span);
    }

    /// <inheritdoc />
    public ReadOnlyMemory<byte> Deserialize(ReadOnlyMemory<byte> data) => data;
}

/// <summary>Picks a serializer for a sample type.</summary>
public static class SampleSerializer
{
    /// <summary>The options of the default MessagePack serializer: the standard resolver with <see cref="MessagePack.MessagePackSecurity.UntrustedData"/>.</summary>
    public static MessagePack.MessagePackSerializerOptions MessagePackDefaults { get; } =
        MessagePack.MessagePackSerializerOptions.Standard.WithSecurity(MessagePack.MessagePackSecurity.UntrustedData);

    /// <summary>Pass-through for <c>byte[]</c> and <c>ReadOnlyMemory&lt;byte&gt;</c>; MessagePack otherwise.</summary>
    public static ISampleSerializer<T> Default<T>()
    {
        if (typeof(T) == typeof(byte[]))
        {
            return (ISampleSerializer<T>)(object)new ByteArraySampleSerializer();
        }

        if (typeof(T) == typeof(ReadOnlyMemory<byte>))
        {
            return (ISampleSerializer<T>)(object)new ReadOnlyMemorySampleSerializer();
        }

        return new MessagePackSampleSerializer<T>();
    }
}
