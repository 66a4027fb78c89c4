using Cache.Engine;

namespace Cache.Transport.Peer;

/// <summary>
/// Values on a connection that agreed on compression: each carries <see cref="ValueCodec"/>'s format
/// byte, and one at least the agreed length long is LZ4-compressed when that saves an eighth. Stateless; thread-safe.
/// </summary>
internal static class WireCodec
{
    /// <summary>Appends <paramref name="value"/> to <paramref name="frame"/> as length-prefixed bytes, framed by the codec.</summary>
    public static void Write(PeerFrameBuilder frame, ReadOnlySpan<byte> value, int compressAbove)
    {
        if (value.Length >= compressAbove)
        {
            frame.Bytes(ValueCodec.Encode(value, compressAbove));
            return;
        }

        // Below the threshold: the raw format byte and the bytes, with no intermediate copy.
        frame.Int32(value.Length + 1).Byte((byte)ValueFormat.Raw).Raw(value);
    }

    /// <summary>Compresses a value for a reply when it is long enough and compression pays; null means "send it raw".</summary>
    public static byte[]? TryCompress(ReadOnlySpan<byte> value, int compressAbove)
    {
        if (value.Length < compressAbove)
        {
            return null;
        }

        var encoded = ValueCodec.Encode(value, compressAbove);
        return encoded[0] == (byte)ValueFormat.Lz4 ? encoded : null;
    }

    /// <summary>
    /// The value a framed one stands for: a slice of <paramref name="framed"/> when raw, a new array when
    /// compressed. False for a malformed or hostile frame (its claimed length is checked before anything is allocated).
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> framed, out ReadOnlySpan<byte> value)
    {
        value = default;
        if (framed.IsEmpty)
        {
            return false;
        }

        if (framed[0] == (byte)ValueFormat.Raw)
        {
            value = framed[1..];
            return true;
        }

        if (framed[0] != (byte)ValueFormat.Lz4 || ValueCodec.TryDecode(framed.ToArray(), out var decoded) != DecodeResult.Value)
        {
            return false;
        }

        value = decoded.Span;
        return true;
    }
}
