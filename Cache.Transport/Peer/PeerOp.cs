using System.Buffers;
using System.Buffers.Binary;

namespace Cache.Transport.Peer;

/// <summary>Operations of the native peer protocol.</summary>
internal enum PeerOp : byte
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
