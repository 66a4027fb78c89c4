using System.Buffers;
using Cache.Dataset;
using static TorchSharp.torch;

namespace Cache.TorchSharp;

/// <summary>
/// The cache's serializer for TorchSharp samples (<c>Dictionary&lt;string, Tensor&gt;</c>), through
/// <see cref="TensorCodec"/>.
/// </summary>
/// <remarks>Thread-safe and stateless. A read returns new CPU tensors owned by the caller; the cache's
/// bytes are copied, never shared, so disposing or changing a returned tensor leaves the cache intact.
/// A value that is not a valid sample throws <see cref="InvalidDataException"/>, which the cache counts
/// as corrupt and treats as a miss.</remarks>
public sealed class TensorSampleSerializer : ISampleSerializer<Dictionary<string, Tensor>>
{
    /// <summary>The shared instance.</summary>
    public static TensorSampleSerializer Instance { get; } = new();

    /// <inheritdoc />
    public void Serialize(Dictionary<string, Tensor> sample, IBufferWriter<byte> output) => TensorCodec.Write(sample, output);

    /// <inheritdoc />
    public Dictionary<string, Tensor> Deserialize(ReadOnlyMemory<byte> data) =>
        TensorCodec.TryRead(data.Span, out var sample)
            ? sample!
            : throw new InvalidDataException("The cached value is not a tensor sample written by TensorCodec.");
}
