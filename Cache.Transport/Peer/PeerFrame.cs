using System.Buffers;
using System.Buffers.Binary;

namespace Cache.Transport.Peer;

/// <summary>Operations of the native peer protocol.</summary>
public enum PeerOp : byte
{
    /// <summary>Client → server, first frame: i32 version, bytes cluster identity, bytes client nonce.</summary>
    Hello = 1,

    /// <summary>Server → client: the connection is accepted. No payload.</summary>
    HelloOk = 2,

    /// <summary>Server → client when a secret is set: bytes server nonce, bytes server proof (HMAC of both nonces).</summary>
    Challenge = 3,

    /// <summary>Client → server answer to <see cref="Challenge"/>: bytes client proof.</summary>
    Proof = 4,

    /// <summary>Liveness check. No payload; answered with <see cref="Pong"/>.</summary>
    Ping = 5,

    /// <summary>Answer to <see cref="Ping"/>.</summary>
    Pong = 6,

    /// <summary>Batch read: i32 count, then per key: bytes.</summary>
    Get = 7,

    /// <summary>Answer to <see cref="Get"/>: i32 count, then per key: i32 length (-1: missing) and the bytes.</summary>
    GetReply = 8,

    /// <summary>Batch write: i32 count, then per entry: bytes key, bytes value.</summary>
    Set = 9,

    /// <summary>Answer to <see cref="Set"/>: i32 count, then one <see cref="Engine.SetResult"/> byte per entry.</summary>
    SetReply = 10,

    /// <summary>Count keys by prefix: bytes prefix. Answered with <see cref="Number"/>.</summary>
    Count = 11,

    /// <summary>Remove keys by prefix: bytes prefix. Answered with <see cref="Number"/>.</summary>
    Clear = 12,

    /// <summary>An i64 answer.</summary>
    Number = 13,

    /// <summary>Rendezvous, to rank 0: i32 rank, i32 world size, bytes endpoint ("host:port"). Answered with <see cref="Table"/> once every rank has joined, <see cref="Waiting"/> before.</summary>
    Join = 14,

    /// <summary>Answer to <see cref="Join"/> before every rank has joined: i32 count, then the ranks that have.</summary>
    Waiting = 15,

    /// <summary>Answer to <see cref="Join"/>: i32 count, then every rank's endpoint in rank order (bytes).</summary>
    Table = 16,

    /// <summary>A RESP command forwarded by the member a client sent it to: i32 RESP protocol (2 or 3), i32 count, then per argument: bytes. The sender has checked that the receiver owns its keys.</summary>
    Command = 17,

    /// <summary>Answer to <see cref="Command"/>: the RESP reply, as the owner wrote it, filling the payload.</summary>
    CommandReply = 18,

    /// <summary>The request failed: UTF-8 message. After an error in the handshake or the framing the connection closes.</summary>
    Error = 255,
}

/// <summary>
/// The framing of the native peer protocol: after the 8-byte <see cref="Preamble"/>, every message is a
/// 9-byte header (i32 little-endian payload length, one <see cref="PeerOp"/> byte, u32 little-endian
/// request id) and the payload. Request ids let one connection carry many concurrent requests, answered
/// as they complete. "bytes" in a payload is an i32 length and that many bytes. Stateless; thread-safe.
/// </summary>
public static class PeerFrame
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

/// <summary>Builds one frame in a growable buffer: header space first, the payload after, the length filled in at the end. Not thread-safe.</summary>
internal sealed class PeerFrameBuilder
{
    private readonly ArrayBufferWriter<byte> _buffer = new(256);

    public PeerFrameBuilder Start(PeerOp op, uint requestId)
    {
        _buffer.ResetWrittenCount();
        _buffer.GetSpan(PeerFrame.HeaderLength)[..PeerFrame.HeaderLength].Clear();
        _buffer.Advance(PeerFrame.HeaderLength);
        Op = op;
        RequestId = requestId;
        return this;
    }

    public PeerOp Op { get; private set; }

    public uint RequestId { get; private set; }

    public PeerFrameBuilder Int32(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
        return this;
    }

    public PeerFrameBuilder Int64(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
        return this;
    }

    public PeerFrameBuilder Byte(byte value)
    {
        _buffer.GetSpan(1)[0] = value;
        _buffer.Advance(1);
        return this;
    }

    public PeerFrameBuilder Raw(ReadOnlySpan<byte> value)
    {
        _buffer.Write(value);
        return this;
    }

    public PeerFrameBuilder Bytes(ReadOnlySpan<byte> value)
    {
        Int32(value.Length);
        _buffer.Write(value);
        return this;
    }

    /// <summary>The finished frame (valid until the next <see cref="Start"/>).</summary>
    public ReadOnlyMemory<byte> Finish()
    {
        var memory = _buffer.WrittenMemory;
        var header = System.Runtime.InteropServices.MemoryMarshal.AsMemory(memory).Span;
        PeerFrame.WriteHeader(header, memory.Length - PeerFrame.HeaderLength, Op, RequestId);
        return memory;
    }
}

/// <summary>Reads a peer payload with bounds checks: a malformed payload makes a read return false, never throw.</summary>
internal ref struct PeerPayloadReader(ReadOnlySpan<byte> payload)
{
    private ReadOnlySpan<byte> _rest = payload;

    public readonly bool IsEmpty => _rest.IsEmpty;

    /// <summary>The bytes not read yet.</summary>
    public readonly ReadOnlySpan<byte> Remaining => _rest;

    public bool TryReadInt32(out int value)
    {
        value = 0;
        if (_rest.Length < 4)
        {
            return false;
        }

        value = BinaryPrimitives.ReadInt32LittleEndian(_rest);
        _rest = _rest[4..];
        return true;
    }

    public bool TryReadInt64(out long value)
    {
        value = 0;
        if (_rest.Length < 8)
        {
            return false;
        }

        value = BinaryPrimitives.ReadInt64LittleEndian(_rest);
        _rest = _rest[8..];
        return true;
    }

    public bool TryReadByte(out byte value)
    {
        value = 0;
        if (_rest.IsEmpty)
        {
            return false;
        }

        value = _rest[0];
        _rest = _rest[1..];
        return true;
    }

    /// <summary>A length-prefixed byte string; the length is checked against what is there before anything is sliced.</summary>
    public bool TryReadBytes(out ReadOnlySpan<byte> bytes)
    {
        bytes = default;
        if (!TryReadInt32(out var length) || length < 0 || length > _rest.Length)
        {
            return false;
        }

        bytes = _rest[..length];
        _rest = _rest[length..];
        return true;
    }

    /// <summary>The next <paramref name="length"/> raw bytes; false when fewer remain.</summary>
    public bool TryReadRaw(int length, out ReadOnlySpan<byte> bytes)
    {
        bytes = default;
        if (length < 0 || length > _rest.Length)
        {
            return false;
        }

        bytes = _rest[..length];
        _rest = _rest[length..];
        return true;
    }

    /// <summary>A count of items of at least <paramref name="minItemBytes"/> each: a count the remaining bytes cannot hold is refused.</summary>
    public bool TryReadCount(int minItemBytes, out int count) =>
        TryReadInt32(out count) && count >= 0 && (long)count * minItemBytes <= _rest.Length;
}
