using System.Buffers;
using System.Buffers.Binary;
using K4os.Compression.LZ4;

namespace Cache.Engine;

/// <summary>The first byte of an encoded value: what follows it.</summary>
public enum ValueFormat : byte
{
    /// <summary>The payload, as is.</summary>
    Raw = 0,

    /// <summary>A 4-byte little-endian decoded length, then an LZ4 block.</summary>
    Lz4 = 1,

    /// <summary>No payload: the value is null (a sample that is legitimately null).</summary>
    Null = 2,
}

/// <summary>The outcome of <see cref="ValueCodec.TryDecode"/>.</summary>
public enum DecodeResult
{
    /// <summary>A payload was decoded.</summary>
    Value = 0,

    /// <summary>The value is null.</summary>
    Null = 1,

    /// <summary>The bytes are not a valid encoded value (unknown format, bad length, corrupt block).</summary>
    Invalid = 2,
}

/// <summary>
/// Frames values with a format byte so that raw, LZ4-compressed and null values coexist in one
/// store. Values are compressed only when that saves at least an eighth of their size. Stateless
/// and thread-safe. Encoded arrays are new and owned by the caller.
/// </summary>
public static class ValueCodec
{
    /// <summary>The largest payload a value may decode to (1 GiB): a bound checked before anything is allocated.</summary>
    public const int MaxDecodedLength = 1 << 30;

    // LZ4 cannot expand data more than ~255x; a claimed length beyond that is corrupt or hostile.
    private const int MaxLz4Ratio = 255;
    private const int Lz4HeaderLength = 5;

    /// <summary>Encodes a payload. When <paramref name="compressAtLeast"/> is positive and the
    /// payload is at least that long, an LZ4 frame is tried and kept if it saves an eighth.</summary>
    public static byte[] Encode(ReadOnlySpan<byte> payload, int compressAtLeast)
    {
        if (compressAtLeast > 0 && payload.Length >= compressAtLeast)
        {
            var bound = LZ4Codec.MaximumOutputSize(payload.Length);
            var rented = ArrayPool<byte>.Shared.Rent(bound);
            try
            {
                var compressed = LZ4Codec.Encode(payload, rented.AsSpan(0, bound), LZ4Level.L00_FAST);
                if (compressed > 0 && compressed + Lz4HeaderLength <= payload.Length - (payload.Length / 8))
                {
                    var framed = GC.AllocateUninitializedArray<byte>(Lz4HeaderLength + compressed);
                    framed[0] = (byte)ValueFormat.Lz4;
                    BinaryPrimitives.WriteInt32LittleEndian(framed.AsSpan(1), payload.Length);
                    rented.AsSpan(0, compressed).CopyTo(framed.AsSpan(Lz4HeaderLength));
                    return framed;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        var raw = GC.AllocateUninitializedArray<byte>(payload.Length + 1);
        raw[0] = (byte)ValueFormat.Raw;
        payload.CopyTo(raw.AsSpan(1));
        return raw;
    }

    /// <summary>The encoding of a null value (a new one-byte array).</summary>
    public static byte[] EncodeNull() => [(byte)ValueFormat.Null];

    /// <summary>
    /// Decodes a framed value. A raw payload is returned as a slice of <paramref name="encoded"/>
    /// (no copy: it shares the caller's buffer); an LZ4 payload is decompressed into a new array.
    /// Never throws on bad input: it returns <see cref="DecodeResult.Invalid"/>.
    /// </summary>
    public static DecodeResult TryDecode(ReadOnlyMemory<byte> encoded, out ReadOnlyMemory<byte> payload)
    {
        payload = default;
        var span = encoded.Span;
        if (span.IsEmpty)
        {
            return DecodeResult.Invalid;
        }

        switch ((ValueFormat)span[0])
        {
            case ValueFormat.Raw:
                payload = encoded[1..];
                return DecodeResult.Value;
            case ValueFormat.Null:
                return span.Length == 1 ? DecodeResult.Null : DecodeResult.Invalid;
            case ValueFormat.Lz4:
                if (span.Length < Lz4HeaderLength)
                {
                    return DecodeResult.Invalid;
                }

                var length = BinaryPrimitives.ReadInt32LittleEndian(span[1..]);
                var block = span[Lz4HeaderLength..];
                if (length < 0 || length > MaxDecodedLength || length > ((long)block.Length * MaxLz4Ratio) + 16)
                {
                    return DecodeResult.Invalid;
                }

                var decoded = GC.AllocateUninitializedArray<byte>(length);
                if (LZ4Codec.Decode(block, decoded) != length)
                {
                    return DecodeResult.Invalid;
                }

                payload = decoded;
                return DecodeResult.Value;
            default:
                return DecodeResult.Invalid;
        }
    }
}
