using System.Buffers;
using System.Buffers.Binary;

namespace Cache.Transport.Peer;

/// <summary>
/// The framing of the native peer protocol: after the 8-byte <see cref="Preamble"/>, every message is a
/// 9-byte header (i32 little-endian payload length, one <see cref="PeerOp"/> byte, u32 little-endian
/// request id) and the payload. Request ids let one connection carry many concurrent requests, answered
/// as they complete. "bytes" in a payload is an i32 length and that many bytes. Stateless; thread-safe.
/// </summary>
internal static class PeerFrame
{
    /// <summary>Header length in bytes.</summary>
    public const int HeaderLength = 9;

    /// <summary>The protocol version this build speaks.</summary>
    public const int Version = 1;

    /// <summary>Largest frame before the handshake completes: a stranger gets no big buffers.</summary>
    public const int MaxHandshakeFrame = 4096;

    /// <summary>The bytes that open a peer connection. The first is NUL, which no RESP command begins with.</summary>
    public static ReadOnlySpan<byte> Preamble => [0x00, (byte)'C', (byte)'A', (byte)'C', (byte)'H', (byte)'E', (byte)'P', (byte)'1'];

    /// <summary>Reads a header; false when fewer than <see cref="HeaderLength"/> bytes are given.</summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> source, out int payloadLength, out PeerOp op, out uint requestId)
    {
        payloadLength = 0;
        op = 0;
        requestId = 0;
        if (source.Length < HeaderLength)
        {
            return false;
        }

        payloadLength = BinaryPrimitives.ReadInt32LittleEndian(source);
        op = (PeerOp)source[4];
        requestId = BinaryPrimitives.ReadUInt32LittleEndian(source[5..]);
        return true;
    }

    /// <summary>Writes a frame's header into the first <see cref="HeaderLength"/> bytes of <paramref name="destination"/>.</summary>
    public static void WriteHeader(Span<byte> destination, int payloadLength, PeerOp op, uint requestId)
    {
        BinaryPrimitives.WriteInt32LittleEndian(destination, payloadLength);
        destination[4] = (byte)op;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[5..], requestId);
    }
}
