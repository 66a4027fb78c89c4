using System.Buffers;

namespace Cache.Dataset;

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
