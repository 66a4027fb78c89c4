using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Threading.Tasks.Sources;
using Cache.Engine;
using Cache.Transport.Peer;
using Cache.Transport.Server;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cache.Tests.Support;

/// <summary>
/// Serves a node's side of one peer connection (<see cref="PeerConnection"/>) without sockets: frames go
/// in through a pipe reader that hands them over synchronously, replies come out of a pipe writer over
/// one reused array. Each <see cref="Serve"/> runs the connection's own read loop inline on the calling
/// thread, up to the point where it waits for the next frame, so a test can count what the calling
/// thread allocated and a benchmark can time it. Also linked into the micro-benchmarks (perf/Micro).
/// Not thread-safe.
/// </summary>
internal sealed class PeerConnectionDriver : IDisposable
{
    private readonly InlineReader _input = new();
    private readonly ReplyWriter _output = new();
    private readonly Task _run;

    /// <summary>Starts a connection on <paramref name="store"/> (a node's default options, no secret) and completes the handshake, asking for compression above <paramref name="compressAbove"/> bytes (0: never).</summary>
    public PeerConnectionDriver(BlockStore store, int compressAbove = 0)
    {
        var options = new PeerServerOptions();
        var services = new PeerServices(store, options.ClusterId, secret: null, options.MaxQueryBuffer);
        var connection = new PeerConnection(services, _output, NullLogger.Instance);
        _run = WithoutContext(() => connection.RunAsync(_input));
        var hello = new PeerFrameBuilder().Start(PeerOp.Hello, 1)
            .Int32(PeerFrame.Version)
            .Bytes(Encoding.UTF8.GetBytes(options.ClusterId))
            .Bytes(new byte[PeerAuth.NonceLength])
            .Int32(compressAbove)
            .Finish();
        var reply = Serve((byte[])[.. PeerFrame.Preamble, .. hello.Span]);
        if (!PeerFrame.TryReadHeader(reply, out _, out var op, out _) || op != PeerOp.HelloOk)
        {
            throw new InvalidOperationException($"handshake answered {op}");
        }
    }

    /// <summary>True once the connection has closed (after a refused frame, or <see cref="Dispose"/>).</summary>
    public bool IsClosed => _run.IsCompleted;

    /// <summary>
    /// Hands <paramref name="frames"/> (whole frames) to the connection and returns every byte it wrote
    /// while serving them: valid until the next call. The connection must have taken all of them.
    /// </summary>
    public ReadOnlySpan<byte> Serve(ReadOnlyMemory<byte> frames)
    {
        _output.Reset();
        var saved = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        try
        {
            _input.Supply(frames);
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(saved);
        }

        if (!_input.IsDrained)
        {
            // Not an assertion: a test calls this inside a loop whose allocations it counts.
            throw new InvalidOperationException("the connection left part of the frames unread");
        }

        return _output.Written;
    }

    public void Dispose()
    {
        _input.Complete();
        if (!_run.IsCompleted)
        {
            throw new InvalidOperationException("the connection did not end with its input");
        }
    }

    /// <summary>
    /// Starts the connection's loop with no synchronization context: its awaits then resume inline, on the
    /// thread that supplies the next frame, instead of being posted to the test framework's context.
    /// </summary>
    private static Task WithoutContext(Func<Task> start)
    {
        var saved = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        try
        {
            return start();
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(saved);
        }
    }

    /// <summary>
    /// A reader whose pending read is completed by <see cref="Supply"/> on the supplying thread
    /// (continuations run inline). Its one reusable value-task source allocates nothing per read.
    /// </summary>
    private sealed class InlineReader : PipeReader, IValueTaskSource<ReadResult>
    {
        private ManualResetValueTaskSourceCore<ReadResult> _source;
        private ReadOnlySequence<byte> _buffer;
        private bool _unexamined;
        private bool _waiting;
        private bool _completed;

        public bool IsDrained => _buffer.IsEmpty;

        public void Supply(ReadOnlyMemory<byte> bytes)
        {
            if (!_buffer.IsEmpty)
            {
                throw new InvalidOperationException("the previous frames were not consumed");
            }

            _buffer = new ReadOnlySequence<byte>(bytes);
            _unexamined = true;
            Wake(canceled: false);
        }

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            if (TryRead(out var result))
            {
                return new ValueTask<ReadResult>(result);
            }

            _source.Reset();
            _waiting = true;
            return new ValueTask<ReadResult>(this, _source.Version);
        }

        public override bool TryRead(out ReadResult result)
        {
            result = new ReadResult(_buffer, false, _completed);
            return _unexamined || _completed;
        }

        public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            _unexamined = !_buffer.Slice(examined).IsEmpty;
            _buffer = _buffer.Slice(consumed);
        }

        public override void CancelPendingRead() => Wake(canceled: true);

        public override void Complete(Exception? exception = null)
        {
            _completed = true;
            Wake(canceled: false);
        }

        private void Wake(bool canceled)
        {
            if (_waiting)
            {
                _waiting = false;
                _source.SetResult(new ReadResult(_buffer, canceled, _completed));
            }
        }

        ReadResult IValueTaskSource<ReadResult>.GetResult(short token) => _source.GetResult(token);

        ValueTaskSourceStatus IValueTaskSource<ReadResult>.GetStatus(short token) => _source.GetStatus(token);

        void IValueTaskSource<ReadResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _source.OnCompleted(continuation, state, token, flags);
    }

    /// <summary>A writer over one array that grows only when a reply is larger than any before; flushes complete at once.</summary>
    private sealed class ReplyWriter : PipeWriter
    {
        private byte[] _buffer = new byte[64 * 1024];
        private int _written;
        private int _flushed;

        public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _written);

        public override bool CanGetUnflushedBytes => true;

        public override long UnflushedBytes => _written - _flushed;

        public void Reset() => _written = _flushed = 0;

        public override void Advance(int bytes) => _written += bytes;

        public override Memory<byte> GetMemory(int sizeHint = 0)
        {
            Ensure(sizeHint);
            return _buffer.AsMemory(_written);
        }

        public override Span<byte> GetSpan(int sizeHint = 0)
        {
            Ensure(sizeHint);
            return _buffer.AsSpan(_written);
        }

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            _flushed = _written;
            return new ValueTask<FlushResult>(new FlushResult(false, false));
        }

        public override void CancelPendingFlush()
        {
        }

        public override void Complete(Exception? exception = null)
        {
        }

        private void Ensure(int sizeHint)
        {
            var needed = _written + Math.Max(sizeHint, 1);
            if (needed > _buffer.Length)
            {
                Array.Resize(ref _buffer, Math.Max(needed, _buffer.Length * 2));
            }
        }
    }
}
