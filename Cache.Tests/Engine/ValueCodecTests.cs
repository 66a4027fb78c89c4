using System.Buffers.Binary;
using Cache.Engine;

namespace Cache.Tests.Engine;

public class ValueCodecTests
{
    [Fact]
    public void Compressible_values_are_stored_compressed_and_read_back_exactly()
    {
        var payload = new byte[64 * 1024];
        for (var i = 0; i < payload.Length; i++)
        {
            payload[i] = (byte)(i % 16);
        }

        var encoded = ValueCodec.Encode(payload, compressAtLeast: 512);
        Assert.Equal((byte)ValueFormat.Lz4, encoded[0]);
        Assert.True(encoded.Length < payload.Length / 4);
        Assert.Equal(DecodeResult.Value, ValueCodec.TryDecode(encoded, out var decoded));
        Assert.True(decoded.Span.SequenceEqual(payload));
    }

    [Fact]
    public void Incompressible_values_stay_raw()
    {
        var payload = new byte[4096];
        new Random(1).NextBytes(payload);
        var encoded = ValueCodec.Encode(payload, compressAtLeast: 512);
        Assert.Equal((byte)ValueFormat.Raw, encoded[0]);
        Assert.Equal(payload.Length + 1, encoded.Length);
        Assert.Equal(DecodeResult.Value, ValueCodec.TryDecode(encoded, out var decoded));
        Assert.True(decoded.Span.SequenceEqual(payload));
    }

    [Fact]
    public void Small_values_and_disabled_compression_stay_raw()
    {
        var zeros = new byte[4096];
        Assert.Equal((byte)ValueFormat.Raw, ValueCodec.Encode(zeros, compressAtLeast: 0)[0]);
        Assert.Equal((byte)ValueFormat.Raw, ValueCodec.Encode(zeros.AsSpan(0, 100), compressAtLeast: 512)[0]);
    }

    [Fact]
    public void Null_round_trips()
    {
        Assert.Equal(DecodeResult.Null, ValueCodec.TryDecode(ValueCodec.EncodeNull(), out _));
    }

    [Fact]
    public void Hostile_or_corrupt_frames_are_invalid_and_allocate_nothing_large()
    {
        var claimsAGigabyte = new byte[16];
        claimsAGigabyte[0] = (byte)ValueFormat.Lz4;
        BinaryPrimitives.WriteInt32LittleEndian(claimsAGigabyte.AsSpan(1), 1 << 30);
        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(DecodeResult.Invalid, ValueCodec.TryDecode(claimsAGigabyte, out _));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1024 * 1024);

        var negative = (byte[])claimsAGigabyte.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(negative.AsSpan(1), -5);
        Assert.Equal(DecodeResult.Invalid, ValueCodec.TryDecode(negative, out _));

        Assert.Equal(DecodeResult.Invalid, ValueCodec.TryDecode(Array.Empty<byte>(), out _));
        Assert.Equal(DecodeResult.Invalid, ValueCodec.TryDecode(new byte[] { 9, 1, 2 }, out _));
        Assert.Equal(DecodeResult.Invalid, ValueCodec.TryDecode(new byte[] { (byte)ValueFormat.Lz4, 1 }, out _));

        var garbage = new byte[40];
        garbage[0] = (byte)ValueFormat.Lz4;
        BinaryPrimitives.WriteInt32LittleEndian(garbage.AsSpan(1), 1000);
        new Random(2).NextBytes(garbage.AsSpan(5));
        Assert.Equal(DecodeResult.Invalid, ValueCodec.TryDecode(garbage, out _));
    }
}
