using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Cache.Engine;
using Microsoft.Extensions.Logging;

namespace Cache.Transport.Peer;

/// <summary>
/// Serves one peer over a pair of pipes: the handshake (version, cluster identity, and the secret's
/// HMAC challenge when one is set), then batched reads and writes on the node's store. A frame larger
/// than the limit, or malformed, gets an error and closes the connection. Frames are assembled in a
/// buffer that grows with the bytes that arrive, never with a length the peer claims. Not thread-safe:
/// one per connection.
/// </summary>
internal sealed partial class PeerConnection(PeerServices services, PipeWriter output, ILogger logger)
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
    private IForwardedCommandRunner? _runner;
    private PipeReader? _input;

    /// <summary>Replies of counts and clears that ran on the thread pool, waiting for the read loop to write them.</summary>
    private readonly System.Collections.Concurrent.ConcurrentQueue<(uint Id, long Number)> _late = new();
    private int _compressAbove;

    public async Task RunAsync(PipeReader input)
    {
        try
        {
            if (!await ReadPreambleAsync(input))
            {
                return;
            }

            _input = input;
            while (!_close)
            {
                // A canceled read is this connection's own wake-up (see CountOrClear): there are late replies to write.
                var result = await input.ReadAsync();
                var buffer = result.Buffer;
                Process(ref buffer);
                input.AdvanceTo(buffer.Start, buffer.End);
                while (_late.TryDequeue(out var late))
                {
                    Send(_reply.Start(PeerOp.Number, late.Id).Int64(late.Number));
                }

                if (output.UnflushedBytes > 0 && (await output.FlushAsync()).IsCompleted)
                {
                    break;
                }

                if (result.IsCompleted)
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
                var limit = _state == State.Ready ? services.MaxFrameBytes : PeerFrame.MaxHandshakeFrame;
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

                CountOrClear(id, op, prefix.ToArray());
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
