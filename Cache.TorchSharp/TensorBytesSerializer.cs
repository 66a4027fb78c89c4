using System.Buffers;
using Cache.Dataset;

namespace Cache.TorchSharp;

/// <summary>
/// Passes samples already encoded by <see cref="TensorCodec"/> through to the cache, and on a read checks
/// that the bytes are such a sample, so a corrupt or hostile value is counted as corrupt and recomputed
/// by the cache instead of reaching libtorch.
/// </summary>
/// <remarks>Thread-safe and stateless. A read returns a view of the cache's immutable bytes (no copy).</remarks>
internal sealed class TensorBytesSerializer : ISampleSerializer<ReadOnlyMemory<byte>>
{
    public static TensorBytesSerializer Instance { get; } = new();

    public void Serialize(ReadOnlyMemory<byte> sample, IBufferWriter<byte> output) => output.Write(sample.Span);

    public ReadOnlyMemory<byte> Deserialize(ReadOnlyMemory<byte> data) =>
        TensorCodec.IsValid(data.Span) ? data : throw new InvalidDataException("The cached value is not a tensor sample written by TensorCodec.");
}
