using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Cache.Engine;
using Cache.Transport.Resp;
using Microsoft.Extensions.Logging;

namespace Cache.Transport.Peer;

/// <summary>
/// Serves one peer over a pair of pipes: the handshake (version, cluster identity, and the secret's
/// HMAC challenge when one is set), then batched reads and writes on the node's store. A frame larger
/// than the limit, or malformed, gets an error and closes the connection. Frames are assembled in a
/// buffer that grows with the bytes that arrive, never with a length the peer claims. Not thread-safe:
/// one per connection.
/// </summary>
internal sealed partial class PeerConnection(ServerContext server, PipeWriter output, ILogger logger)
{
    private enum State
    {
        AwaitHello,
        AwaitProof,
        Ready,
    }

    /// <summary>Keys of a batched read hinted to the store at a time.</summary>
    private const int HintWindow = 16;

    private readonly PeerFrameBuilder _reply = new();
    private State _state = State.AwaitHello;
    private byte[]? _clientNonce;
    private byte[]? _serverNonce;
    private byte[] _frame = [];
    private int _filled;
    private int _frameLength = -1;
    private bool _close;
    private CommandRunner? _runner;
    private int _compressAbove;

    public async Task RunAsync(PipeReader input)
    {
        try
        {
            if (!await ReadPreambleAsync(input))
            {
                return;
            }

            while (!_close)
            {
                var result = await input.ReadAsync();
                var buffer = result.Buffer;
                Process(ref buffer);
                input.AdvanceTo(buffer.Start, buffer.End);
                if (output.UnflushedBytes > 0 && (await output.FlushAsync()).IsCompleted)
                {
                    break;
                }

                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }
        }
        finally
        {
            if (_frame.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_frame);
                _frame = [];
            }
        }
    }

    /// <summary>Consumes the preamble; false (close) as soon as the bytes that arrived differ from it.</summary>
    private static async Task<bool> ReadPreambleAsync(PipeReader input)
    {
        var length = PeerFrame.Preamble.Length;
        while (true)
        {
            var result = await input.ReadAsync();
            var buffer = result.Buffer;
            var seen = (int)Math.Min(buffer.Length, length);
            var ok = Matches(buffer.Slice(0, seen));
            if (!ok || seen == length)
            {
                input.AdvanceTo(buffer.GetPosition(seen));
                return ok;
            }

            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                return false;
            }
        }
    }

    private static bool Matches(ReadOnlySequence<byte> bytes)
    {
        Span<byte> copy = stackalloc byte[8];
        bytes.CopyTo(copy);
        return copy[..(int)bytes.Length].SequenceEqual(PeerFrame.Preamble[..(int)bytes.Length]);
    }

    private void Process(ref ReadOnlySequence<byte> buffer)
    {
        Span<byte> header = stackalloc byte[PeerFrame.HeaderLength];
        while (!_close && !buffer.IsEmpty)
        {
            if (_frameLength < 0)
            {
                if (buffer.Length < PeerFrame.HeaderLength)
                {
                    return;
                }

                buffer.Slice(0, PeerFrame.HeaderLength).CopyTo(header);
                PeerFrame.TryReadHeader(header, out var payloadLength, out _, out _);
                var limit = _state == State.Ready ? server.Options.MaxQueryBuffer : PeerFrame.MaxHandshakeFrame;
                if (payloadLength < 0 || payloadLength > limit - PeerFrame.HeaderLength)
                {
                    Fail(0, $"frame of {payloadLength} bytes is over the limit");
                    return;
                }

                _frameLength = PeerFrame.HeaderLength + payloadLength;
                var first = buffer.FirstSpan;
                if (first.Length >= _frameLength)
                {
                    // The common case: the whole frame is in one segment, handled where it lies.
                    Handle(first[.._frameLength]);
                    buffer = buffer.Slice(_frameLength);
                    _frameLength = -1;
                    continue;
                }
            }

            var take = (int)Math.Min(buffer.Length, _frameLength - _filled);
            if (_filled + take > _frame.Length)
            {
                var size = (int)Math.Min(_frameLength, Math.Max(64L * 1024, Math.Max((long)_frame.Length * 2, _filled + take)));
                var bigger = ArrayPool<byte>.Shared.Rent(size);
                _frame.AsSpan(0, _filled).CopyTo(bigger);
                if (_frame.Length > 0)
                {
                    ArrayPool<byte>.Shared.Return(_frame);
                }

                _frame = bigger;
            }

            buffer.Slice(0, take).CopyTo(_frame.AsSpan(_filled));
            buffer = buffer.Slice(take);
            _filled += take;
            if (_filled < _frameLength)
            {
                return;
            }

            Handle(_frame.AsSpan(0, _frameLength));
            _filled = 0;
            _frameLength = -1;
        }
    }

    private void Handle(ReadOnlySpan<byte> frame)
    {
        PeerFrame.TryReadHeader(frame, out _, out var op, out var id);
        var payload = new PeerPayloadReader(frame[PeerFrame.HeaderLength..]);
        switch (_state, op)
        {
            case (State.AwaitHello, PeerOp.Hello):
                Hello(id, ref payload);
                break;
            case (State.AwaitProof, PeerOp.Proof):
                Proof(id, ref payload);
                break;
            case (State.Ready, PeerOp.Ping):
                Send(_reply.Start(PeerOp.Pong, id));
                break;
            case (State.Ready, PeerOp.Get):
                Get(id, ref payload);
                break;
            case (State.Ready, PeerOp.Set):
                Set(id, ref payload);
                break;
            case (State.Ready, PeerOp.Count):
            case (State.Ready, PeerOp.Clear):
                if (!payload.TryReadBytes(out var prefix))
                {
                    Fail(id, "malformed prefix");
                    return;
                }

                Send(_reply.Start(PeerOp.Number, id).Int64(op == PeerOp.Count ? server.Store.CountKeys(prefix) : server.Store.RemoveKeys(prefix)));
                break;
            case (State.Ready, PeerOp.Command):
                RunCommand(id, frame[PeerFrame.HeaderLength..]);
                break;
            case (State.Ready, PeerOp.Join):
                Join(id, ref payload);
                break;
            case (State.Ready, _):
                Send(_reply.Start(PeerOp.Error, id).Bytes(Encoding.UTF8.GetBytes($"unknown operation {(byte)op}")));
                break;
            default:
                Fail(id, "handshake first");
                break;
        }
    }

    private void Hello(uint id, ref PeerPayloadReader payload)
    {
        if (!payload.TryReadInt32(out var version) || !payload.TryReadBytes(out var cluster) || !payload.TryReadBytes(out var nonce) || nonce.Length != PeerAuth.NonceLength)
        {
            Fail(id, "malformed hello");
            return;
        }

        // Optional: the value length from which the client wants values compressed (absent or 0: never).
        // The node agrees to any positive threshold; the answer repeats it.
        if (payload.TryReadInt32(out var compressAbove) && compressAbove > 0)
        {
            _compressAbove = compressAbove;
        }

        if (version != PeerFrame.Version)
        {
            Fail(id, $"protocol version {version} is not supported (this node speaks {PeerFrame.Version})");
            return;
        }

        if (!cluster.SequenceEqual(Encoding.UTF8.GetBytes(server.Options.ClusterId)))
        {
            Fail(id, "another cluster");
            return;
        }

        if (server.Options.Secret is not { Length: > 0 } secret)
        {
            _state = State.Ready;
            Send(_reply.Start(PeerOp.HelloOk, id).Int32(_compressAbove));
            return;
        }

        _clientNonce = nonce.ToArray();
        _serverNonce = PeerAuth.NewNonce();
        _state = State.AwaitProof;
        Send(_reply.Start(PeerOp.Challenge, id).Bytes(_serverNonce).Bytes(PeerAuth.Proof(secret, "server", _clientNonce, _serverNonce)));
    }

    private void Proof(uint id, ref PeerPayloadReader payload)
    {
        if (!payload.TryReadBytes(out var proof) || !PeerAuth.Verify(server.Options.Secret!, "client", _serverNonce, _clientNonce, proof))
        {
            Fail(id, "authentication failed");
            return;
        }

        _state = State.Ready;
        Send(_reply.Start(PeerOp.HelloOk, id).Int32(_compressAbove));
    }

    /// <summary>
    /// Hints the next <paramref name="count"/> keys of a batched read to the store (a copy of the reader
    /// looks ahead), so that their lookups' cache misses overlap (see <see cref="BlockStore.Prefetch"/>).
    /// </summary>
    private void HintKeys(PeerPayloadReader ahead, int count)
    {
        var source = ahead.Remaining;
        Span<Range> keys = stackalloc Range[HintWindow];
        var hinted = 0;
        while (hinted < count && ahead.TryReadBytes(out var key))
        {
            var end = source.Length - ahead.Remaining.Length;
            keys[hinted++] = new Range(end - key.Length, end);
        }

        if (hinted > 1)
        {
            server.Store.Prefetch(source, keys[..hinted]);
        }
    }

    private void Get(uint id, ref PeerPayloadReader payload)
    {
        if (!payload.TryReadCount(4, out var count))
        {
            Fail(id, "malformed get");
            return;
        }

        // Look every key up first, so that the reply's length is known and the values are written
        // straight into the output, copied once. The lists are pooled (a GET allocates nothing per
        // request: PeerAllocationTests) and cleared on return, so the pool holds no value alive.
        var values = ArrayPool<ReadOnlyMemory<byte>?>.Shared.Rent(count);
        var compressed = _compressAbove > 0 ? ArrayPool<byte[]?>.Shared.Rent(count) : null;
        try
        {
            Get(id, ref payload, count, values, compressed);
        }
        finally
        {
            ArrayPool<ReadOnlyMemory<byte>?>.Shared.Return(values, clearArray: true);
            if (compressed is not null)
            {
                ArrayPool<byte[]?>.Shared.Return(compressed, clearArray: true);
            }
        }
    }

    private void Get(uint id, ref PeerPayloadReader payload, int count, ReadOnlyMemory<byte>?[] values, byte[]?[]? compressed)
    {
        long length = 4;
        for (var i = 0; i < count; i++)
        {
            if (i % HintWindow == 0)
            {
                HintKeys(payload, Math.Min(HintWindow, count - i));
            }

            if (!payload.TryReadBytes(out var key))
            {
                Fail(id, "malformed get");
                return;
            }

            if (server.Store.TryGet(key, out var value))
            {
                values[i] = value;
                if (compressed is not null)
                {
                    compressed[i] = WireCodec.TryCompress(value.Span, _compressAbove);
                    length += 4 + (compressed[i]?.Length ?? value.Length + 1);
                }
                else
                {
                    length += 4 + value.Length;
                }
            }
            else
            {
                length += 4;
            }
        }

        if (length > int.MaxValue)
        {
            Send(_reply.Start(PeerOp.Error, id).Bytes("reply too large"u8));
            return;
        }

        var header = output.GetSpan(PeerFrame.HeaderLength + 4);
        PeerFrame.WriteHeader(header, (int)length, PeerOp.GetReply, id);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(header[PeerFrame.HeaderLength..], count);
        output.Advance(PeerFrame.HeaderLength + 4);
        for (var i = 0; i < count; i++)
        {
            var value = values[i];
            var packed = compressed?[i];
            var framedLength = value is null ? -1 : packed?.Length ?? (value.Value.Length + (compressed is null ? 0 : 1));
            var prefix = output.GetSpan(5);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(prefix, framedLength);
            if (value is not null && compressed is not null && packed is null)
            {
                // Compression agreed but not worth it for this value: the raw format byte, then the bytes.
                prefix[4] = (byte)ValueFormat.Raw;
                output.Advance(5);
            }
            else
            {
                output.Advance(4);
            }

            if (packed is not null)
            {
                output.Write(packed);
            }
            else if (value is { } bytes)
            {
                output.Write(bytes.Span);
            }
        }
    }

    private void Join(uint id, ref PeerPayloadReader payload)
    {
        if (!payload.TryReadInt32(out var rank) || !payload.TryReadInt32(out var size) || !payload.TryReadBytes(out var endpoint))
        {
            Fail(id, "malformed join");
            return;
        }

        var board = server.Rendezvous;
        if (board is null || !board.TryJoin(rank, size, Encoding.UTF8.GetString(endpoint)))
        {
            Send(_reply.Start(PeerOp.Error, id).Bytes(Encoding.UTF8.GetBytes(board is null
                ? "this node is not the rendezvous point"
                : $"rank {rank} of {size} does not fit a job of {board.WorldSize}, or reported another endpoint")));
            return;
        }

        var (table, joined) = board.Snapshot();
        if (table is null)
        {
            _reply.Start(PeerOp.Waiting, id).Int32(joined.Length);
            foreach (var r in joined)
            {
                _reply.Int32(r);
            }

            Send(_reply);
            return;
        }

        _reply.Start(PeerOp.Table, id).Int32(table.Length);
        foreach (var entry in table)
        {
            _reply.Bytes(Encoding.UTF8.GetBytes(entry));
        }

        Send(_reply);
    }

    private void Set(uint id, ref PeerPayloadReader payload)
    {
        if (!payload.TryReadCount(8, out var count))
        {
            Fail(id, "malformed set");
            return;
        }

        _reply.Start(PeerOp.SetReply, id).Int32(count);
        for (var i = 0; i < count; i++)
        {
            if (!payload.TryReadBytes(out var key) || !payload.TryReadBytes(out var value))
            {
                Fail(id, "malformed set");
                return;
            }

            if (_compressAbove > 0 && !WireCodec.TryDecode(value, out value))
            {
                Fail(id, "malformed value");
                return;
            }

            _reply.Byte((byte)server.Store.Set(key, value));
        }

        Send(_reply);
    }

    private void RunCommand(uint id, ReadOnlySpan<byte> payload)
    {
        _runner ??= new CommandRunner(server);
        if (!_runner.TryRun(payload, out var reply))
        {
            // The frame itself was sound, so the connection (shared by every request to this node) stays open.
            Send(_reply.Start(PeerOp.Error, id).Bytes("malformed command"u8));
            return;
        }

        PeerFrame.WriteHeader(output.GetSpan(PeerFrame.HeaderLength), reply.Length, PeerOp.CommandReply, id);
        output.Advance(PeerFrame.HeaderLength);
        output.Write(reply);
    }

    private void Send(PeerFrameBuilder frame) => output.Write(frame.Finish().Span);

    private void Fail(uint id, string reason)
    {
        LogPeerRefused(logger, reason);
        Send(_reply.Start(PeerOp.Error, id).Bytes(Encoding.UTF8.GetBytes(reason)));
        _close = true;
    }

    [LoggerMessage(EventId = 3201, Level = LogLevel.Warning, Message = "Peer connection closed: {Reason}")]
    private static partial void LogPeerRefused(ILogger logger, string reason);
}
