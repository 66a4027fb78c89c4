using TorchSharp;
using static TorchSharp.torch;

namespace Cache.TorchSharp.Tests;

/// <summary>Element-for-element equality of tensors and samples, NaN-safe (compares the bytes).</summary>
internal static class TensorAssert
{
    public static void Equal(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(DeviceType.CPU, actual.device_type);
        if (expected.is_quantized())
        {
            Assert.Equal(expected.q_scale(), actual.q_scale());
            Assert.Equal(expected.q_zero_point(), actual.q_zero_point());
        }

        using var left = expected.contiguous();
        using var right = actual.contiguous();
        Assert.True(left.bytes.SequenceEqual(right.bytes), "the tensors' data differ");
    }

    public static void Equal(IReadOnlyDictionary<string, Tensor> expected, IReadOnlyDictionary<string, Tensor> actual)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, tensor) in expected)
        {
            Equal(tensor, actual[name]);
        }
    }

    public static void DisposeAll(IEnumerable<Dictionary<string, Tensor>> samples)
    {
        foreach (var sample in samples)
        {
            foreach (var tensor in sample.Values)
            {
                tensor.Dispose();
            }
        }
    }
}
