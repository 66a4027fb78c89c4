using System.Buffers;
using System.Buffers.Binary;
using TorchSharp;
using static TorchSharp.torch;

namespace Cache.TorchSharp.Tests;

public class TensorCodecTests
{
    public static TheoryData<ScalarType> AllDtypes()
    {
        var data = new TheoryData<ScalarType>();
        foreach (var type in Enum.GetValues<ScalarType>())
        {
            data.Add(type);
        }

        return data;
    }

    private static readonly long[][] Shapes =
    [
        [], // a scalar
        [0],
        [0, 3],
        [1],
        [7],
        [2, 3, 4],
        [1, 1, 1, 1, 5],
    ];

    [Theory]
    [MemberData(nameof(AllDtypes))]
    public void Round_trips_every_dtype_in_every_shape(ScalarType type)
    {
        foreach (var shape in Shapes)
        {
            using var original = Random(type, shape, seed: shape.Length);
            using var copy = RoundTrip(new() { ["t"] = original });
            TensorAssert.Equal(original, copy.Tensors["t"]);
        }
    }

    [Theory]
    [MemberData(nameof(AllDtypes))]
    public void Round_trips_non_contiguous_views(ScalarType type)
    {
        using var whole = Random(type, [4, 6], seed: 3);
        using var transposed = whole.t();
        using var strided = whole[TensorIndex.Slice(1, null, 2), TensorIndex.Slice(null, null, 3)];
        using var offset = whole[TensorIndex.Slice(2)];
        Assert.False(transposed.is_contiguous());
        Assert.False(strided.is_contiguous());

        using var copy = RoundTrip(new() { ["transposed"] = transposed, ["strided"] = strided, ["offset"] = offset });

        TensorAssert.Equal(transposed, copy.Tensors["transposed"]);
        TensorAssert.Equal(strided, copy.Tensors["strided"]);
        TensorAssert.Equal(offset, copy.Tensors["offset"]);
        Assert.True(copy.Tensors["transposed"].is_contiguous());
    }

    [Fact]
    public void Round_trips_many_tensors_names_and_an_empty_sample()
    {
        using var a = tensor(new[] { 1.5f, float.NaN, float.NegativeInfinity });
        using var b = ones(2, 2, dtype: ScalarType.Int16);
        using var copy = RoundTrip(new() { ["a"] = a, [""] = b, ["ünïcødé/名前"] = a });
        Assert.Equal(3, copy.Tensors.Count);
        TensorAssert.Equal(a, copy.Tensors["a"]);
        TensorAssert.Equal(b, copy.Tensors[""]);
        TensorAssert.Equal(a, copy.Tensors["ünïcødé/名前"]);

        using var empty = RoundTrip([]);
        Assert.Empty(empty.Tensors);
    }

    [Fact]
    public void A_read_returns_new_tensors_that_share_nothing_with_the_bytes_or_each_other()
    {
        using var original = arange(6, dtype: ScalarType.Int32);
        var bytes = Encode(new() { ["x"] = original });

        Assert.True(TensorCodec.TryRead(bytes, out var first));
        Assert.True(TensorCodec.TryRead(bytes, out var second));
        first!["x"].fill_(-1);
        first["x"].Dispose();

        TensorAssert.Equal(original, second!["x"]);
        Assert.True(TensorCodec.TryRead(bytes, out var third));
        TensorAssert.Equal(original, third!["x"]);
        second["x"].Dispose();
        third["x"].Dispose();
    }

    [Fact]
    public void Gradients_are_not_kept()
    {
        using var weights = ones(3).requires_grad_(true);
        using var copy = RoundTrip(new() { ["w"] = weights });
        Assert.False(copy.Tensors["w"].requires_grad);
        TensorAssert.Equal(weights.detach(), copy.Tensors["w"]);
    }

    [Fact]
    public void Sparse_tensors_are_refused_with_a_clear_error()
    {
        using var dense = eye(3);
        using var sparse = dense.to_sparse();
        var error = Assert.Throws<NotSupportedException>(() => Encode(new() { ["s"] = sparse }));
        Assert.Contains("'s'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_truncation_is_refused()
    {
        using var a = arange(10, dtype: ScalarType.Float64).reshape(2, 5);
        using var b = tensor(true);
        var bytes = Encode(new() { ["a"] = a, ["b"] = b });
        for (var length = 0; length < bytes.Length; length++)
        {
            Assert.False(TensorCodec.TryRead(bytes.AsSpan(0, length), out var sample), $"accepted {length} of {bytes.Length} bytes");
            Assert.Null(sample);
        }
    }

    [Fact]
    public void Corrupt_fields_are_refused()
    {
        using var a = arange(4, dtype: ScalarType.Int32);
        var good = Encode(new() { ["ab"] = a });
        Assert.True(TensorCodec.IsValid(good));

        // Offsets in this layout: magic 0-3, count 4-7, name length 8-9, name 10-11, dtype 12, rank 13, dim 14-21, data 22-37.
        AssertRefused(good, b => b[0] = (byte)'X');                                      // magic
        AssertRefused(good, b => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), 2)); // a tensor missing
        AssertRefused(good, b => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), uint.MaxValue));
        AssertRefused(good, b => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(8), 60000)); // name past the end
        AssertRefused(good, b => b[10] = 0xff);                                          // not UTF-8
        AssertRefused(good, b => b[12] = 8);                                             // no dtype has value 8
        AssertRefused(good, b => b[12] = 0x7f);
        AssertRefused(good, b => b[12] = (byte)ScalarType.Int64);                        // data too short for the dtype
        AssertRefused(good, b => b[13] = 200);                                           // rank above the limit
        AssertRefused(good, b => BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(14), -4));
        AssertRefused(good, b => BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(14), long.MaxValue));
        AssertRefused(good, b => BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(14), 1L << 61)); // numel * 4 would overflow
        AssertRefused([.. good, 0]);                                                     // trailing byte
    }

    [Fact]
    public void Hostile_shapes_are_refused_before_any_allocation()
    {
        // A zero dimension makes the data empty, but the other dimensions still may not be absurd.
        var writer = new ArrayBufferWriter<byte>();
        writer.Write("TSC1"u8);
        writer.Write(new byte[] { 1, 0, 0, 0, 1, 0, (byte)'x', (byte)ScalarType.Float32, 3 });
        foreach (var dimension in new[] { 0L, 1L << 40, 1L << 40 })
        {
            var span = writer.GetSpan(8);
            BinaryPrimitives.WriteInt64LittleEndian(span, dimension);
            writer.Advance(8);
        }

        Assert.False(TensorCodec.TryRead(writer.WrittenSpan, out _));
    }

    [Fact]
    public void Duplicate_names_and_booleans_other_than_0_or_1_are_refused()
    {
        using var flag = tensor(new[] { true, false });
        var good = Encode(new() { ["f"] = flag });
        AssertRefused(good, b => b[^1] = 2);

        using var x = tensor(1);
        var one = Encode(new() { ["x"] = x });
        var tensorBytes = one[8..];
        byte[] twice = [.. one[..4], 2, 0, 0, 0, .. tensorBytes, .. tensorBytes];
        AssertRefused(twice);
    }

    [Fact]
    public void Random_bytes_never_throw()
    {
        var random = new Random(12345);
        using var a = arange(12, dtype: ScalarType.Int16).reshape(3, 4);
        var good = Encode(new() { ["a"] = a, ["b"] = a });
        for (var round = 0; round < 2000; round++)
        {
            var bytes = (byte[])good.Clone();
            for (var flips = random.Next(1, 4); flips > 0; flips--)
            {
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            }

            if (TensorCodec.TryRead(bytes, out var sample))
            {
                TensorAssert.DisposeAll([sample!]);
            }

            var noise = new byte[random.Next(0, 64)];
            random.NextBytes(noise);
            if (noise.Length >= 4)
            {
                "TSC1"u8.CopyTo(noise);
            }

            if (TensorCodec.TryRead(noise, out sample))
            {
                TensorAssert.DisposeAll([sample!]);
            }
        }
    }

    private static void AssertRefused(byte[] good, Action<byte[]> corrupt)
    {
        var bytes = (byte[])good.Clone();
        corrupt(bytes);
        AssertRefused(bytes);
    }

    private static void AssertRefused(byte[] bytes)
    {
        Assert.False(TensorCodec.IsValid(bytes));
        Assert.False(TensorCodec.TryRead(bytes, out var sample));
        Assert.Null(sample);
        Assert.Throws<InvalidDataException>(() => TensorSampleSerializer.Instance.Deserialize(bytes));
    }

    private static byte[] Encode(Dictionary<string, Tensor> sample)
    {
        var writer = new ArrayBufferWriter<byte>();
        TensorCodec.Write(sample, writer);
        return writer.WrittenSpan.ToArray();
    }

    private static DecodedSample RoundTrip(Dictionary<string, Tensor> sample)
    {
        var writer = new ArrayBufferWriter<byte>();
        TensorSampleSerializer.Instance.Serialize(sample, writer);
        return new DecodedSample(TensorSampleSerializer.Instance.Deserialize(writer.WrittenMemory));
    }

    private static Tensor Random(ScalarType type, long[] shape, int seed)
    {
        using var generator = new Generator((ulong)seed);
        using var uniform = rand(shape, generator: generator);
        switch (type)
        {
            case ScalarType.Bool:
                return uniform.gt(0.5);
            case ScalarType.QInt8 or ScalarType.QUInt8 or ScalarType.QInt32:
                return quantize_per_tensor(uniform, 0.01, type == ScalarType.QInt8 ? -3 : 5, type);
            case ScalarType.ComplexFloat32 or ScalarType.ComplexFloat64:
                using (var imaginary = rand(shape, generator: generator))
                using (var z = complex(uniform, imaginary))
                {
                    return z.to_type(type);
                }

            default:
                using (var scaled = uniform.mul(200).sub(100))
                {
                    return scaled.to_type(type);
                }
        }
    }

    private sealed class DecodedSample(Dictionary<string, Tensor> tensors) : IDisposable
    {
        public Dictionary<string, Tensor> Tensors { get; } = tensors;

        public void Dispose() => TensorAssert.DisposeAll([Tensors]);
    }
}
