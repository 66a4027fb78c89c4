using Cache.Transport.Common;
using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Cache.Engine;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cache.Transport.Peer;

/// <summary>
/// A client of one remote node over the native peer protocol: one connection carries many concurrent,
/// batched requests (each with a request id, answered as it completes). A request fails when the peer has
/// sent nothing for <see cref="PeerClientOptions.RequestTimeout"/> (silence, not size: a large reply that keeps
/// arriving is waited for, up to a total deadline that grows with the bytes received); a failed request is a
/// miss (reads) or <see cref="SetResult.Failed"/> (writes), never an exception. After repeated failures the
/// peer is skipped (<see cref="Breaker"/>) and probed in the background with a PING over a fresh connection,
/// at most <see cref="PeerClientOptions.ProbeInterval"/> apart, so that it is used again as soon as it answers.
/// A broken connection is re-established on the next request.
/// </summary>
/// <remarks>Thread-safe. Keys and values passed in are only read; values returned are new arrays owned by the caller.</remarks>
internal sealed partial class PeerClient : IAsyncDisposable
{
    private readonly EndPoint _endPoint;
    private readonly PeerClientOptions _options;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _connectGate = new(1, 1);
    private Connection? _connection;
    private readonly System.Runtime.CompilerServices.StrongBox<long> _received = new();
    private readonly TimeProvider _time;
    private int _nextId;
    private int _disposed;
    private int _probeRunning;
    private long _failedRequests;
    private long _probesSent;

    /// <summary>A request at least this large may still be on its way to the peer when the silence runs out (see <see cref="ReplyWait"/>).</summary>
    private const long LargeRequest = 64 * 1024;

    /// <summary>The total deadline of a request grows by one second per this many bytes sent and received (1 MiB/s, a link far slower than any a mesh runs on).</summary>
    private const double LeastBytesPerSecond = 1 << 20;

    /// <summary>The first probe after the breaker opens comes this soon (or at <see cref="PeerClientOptions.ProbeInterval"/>, if shorter); each failed probe doubles the wait, up to that interval.</summary>
    private static readonly TimeSpan FirstProbe = TimeSpan.FromMilliseconds(25);

    /// <summary>The silence a batch of writes allows: <see cref="PeerClientOptions.WriteTimeout"/>, or the reads' timeout if longer.</summary>
    private TimeSpan WriteSilence => _options.WriteTimeout > _options.RequestTimeout ? _options.WriteTimeout : _options.RequestTimeout;

    /// <summary>Creates a client; it connects on first use.</summary>
    public PeerClient(EndPoint endPoint, PeerClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        ArgumentNullException.ThrowIfNull(options);
        if (options.RequestTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options.RequestTimeout), "RequestTimeout must be positive.");
        }

        if (options.WriteTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options.WriteTimeout), "WriteTimeout must be positive.");
        }

        if (options.CommandTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options.CommandTimeout), "CommandTimeout must be positive.");
        }

        if (options.CompressAbove < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options.CompressAbove), "CompressAbove must be 0 (never) or a positive length.");
        }

        if (options.ProbeInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options.ProbeInterval), "ProbeInterval must be positive.");
        }

        if (options.FailoverAfter <= TimeSpan.Zero && options.FailoverAfter != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(options.FailoverAfter), "FailoverAfter must be positive, or Timeout.InfiniteTimeSpan (never).");
        }

        _endPoint = endPoint;
        _options = options;
        _time = options.TimeProvider ?? TimeProvider.System;
        _logger = (ILogger?)options.LoggerFactory?.CreateLogger<PeerClient>() ?? NullLogger.Instance;
        Breaker = new CircuitBreaker(options.BreakerThreshold, options.BreakerWindow, TimeSpan.FromSeconds(30), _time);
    }

    /// <summary>Bytes of answers received from the peer so far (frame headers included), over every connection. Thread-safe.</summary>
    public long BytesReceived => Interlocked.Read(ref _received.Value);

    /// <summary>Requests of the data path that failed (timed out, refused, connection lost) so far; skipped requests (breaker open) are not counted. Thread-safe.</summary>
    public long FailedRequests => Interlocked.Read(ref _failedRequests);

    /// <summary>Background probes started so far (tests follow the probe's schedule with it).</summary>
    internal long ProbesSent => Interlocked.Read(ref _probesSent);

    /// <summary>The peer's address.</summary>
    public EndPoint EndPoint => _endPoint;

    /// <summary>The breaker that skips this peer after failures.</summary>
    public CircuitBreaker Breaker { get; }

    /// <summary>Connects and completes the handshake now. Throws <see cref="PeerRefusedException"/> when the peer refuses it, <see cref="SocketException"/> when it cannot be reached.</summary>
    public async Task ConnectAsync(CancellationToken cancellationToken = default) => await GetConnectionAsync(cancellationToken);

    /// <summary>True when nothing has arrived from the peer for <paramref name="span"/> (or there is no live connection): a heartbeat is due.</summary>
    public bool IsQuietFor(TimeSpan span) =>
        Volatile.Read(ref _connection) is not { IsBroken: false } connection || _time.GetElapsedTime(connection.LastReceived) >= span;

    /// <summary>True when the peer answers a ping in time.</summary>
    public async Task<bool> PingAsync() => (await RequestAsync(PeerOp.Ping, static (_, _, _) => { }, 0))?.Op == PeerOp.Pong;

    /// <summary>
    /// Reads many keys: element i is key i's value, or null when missing. Null as a whole when the peer
    /// failed (every key a miss). The values are slices of one new array that belongs to the caller.
    /// </summary>
    public Task<ReadOnlyMemory<byte>?[]?> GetManyAsync(IReadOnlyList<StoreKey> keys, CancellationToken cancellationToken = default) =>
        GetManyAsync(keys, completeInline: false, cancellationToken);

    /// <summary>
    /// As <see cref="GetManyAsync(IReadOnlyList{StoreKey}, CancellationToken)"/>; with <paramref name="completeInline"/> the
    /// task completes on the connection's reader thread and the awaiting continuation runs there, with no hop through the
    /// thread pool (a pool thread's wake-up costs milliseconds on a busy machine). Only for a continuation that is short
    /// and never blocks: while it runs, no other reply on this connection is read.
    /// </summary>
    public async Task<ReadOnlyMemory<byte>?[]?> GetManyAsync(IReadOnlyList<StoreKey> keys, bool completeInline, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var reply = await RequestAsync(PeerOp.Get, static (frame, k, _) => PeerGetCodec.WriteRequest(frame, k), keys, completeInline: completeInline, cancellationToken: cancellationToken);
        return reply?.Op == PeerOp.GetReply ? PeerGetCodec.Values(reply.Values, keys.Count, reply.CompressAbove > 0) : null;
    }

    /// <summary>Writes many entries; element i is entry i's outcome (<see cref="SetResult.Failed"/> for all when the peer failed).</summary>
    public Task<SetResult[]> SetManyAsync(IReadOnlyList<KeyValuePair<StoreKey, byte[]>> entries, CancellationToken cancellationToken = default) =>
        SetManyAsync(entries, completeInline: false, cancellationToken);

    /// <summary>
    /// As <see cref="SetManyAsync(IReadOnlyList{KeyValuePair{StoreKey, byte[]}}, CancellationToken)"/>; with
    /// <paramref name="completeInline"/> the task completes on the connection's reader thread, as for
    /// <see cref="GetManyAsync(IReadOnlyList{StoreKey}, bool, CancellationToken)"/>.
    /// </summary>
    public async Task<SetResult[]> SetManyAsync(IReadOnlyList<KeyValuePair<StoreKey, byte[]>> entries, bool completeInline, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var reply = await RequestAsync(PeerOp.Set, WriteSetRequest, entries, WriteSilence, completeInline: completeInline, cancellationToken: cancellationToken);
        return ReadSetReply(reply, entries.Count);
    }

    /// <summary>The payload of a batched <see cref="PeerOp.Set"/>: the count, then each key and value (through the wire codec when compression was agreed).</summary>
    internal static void WriteSetRequest(PeerFrameBuilder frame, IReadOnlyList<KeyValuePair<StoreKey, byte[]>> entries, int compressAbove)
    {
        // The frame's size is known (at most, with compression): one buffer of it rather than growth by doubling.
        long size = 4;
        foreach (var (key, value) in entries)
        {
            size += 4 + key.Span.Length + 4 + value.Length + 1;
        }

        frame.Reserve(size).Int32(entries.Count);
        foreach (var (key, value) in entries)
        {
            frame.Bytes(key.Span);
            if (compressAbove > 0)
            {
                WireCodec.Write(frame, value, compressAbove);
            }
            else
            {
                frame.Bytes(value);
            }
        }
    }

    /// <summary>The outcomes in a <see cref="PeerOp.SetReply"/> to <paramref name="count"/> entries; all <see cref="SetResult.Failed"/> when there is none or it does not fit.</summary>
    private static SetResult[] ReadSetReply(Reply? reply, int count)
    {
        var results = new SetResult[count];
        Array.Fill(results, SetResult.Failed);
        if (reply?.Op != PeerOp.SetReply)
        {
            return results;
        }

        var payload = new PeerPayloadReader(reply.Payload);
        if (!payload.TryReadInt32(out var answered) || answered != count)
        {
            return results;
        }

        for (var i = 0; i < count && payload.TryReadByte(out var result); i++)
        {
            results[i] = (SetResult)result;
        }

        return results;
    }

    /// <summary>
    /// Reports this rank's endpoint to the rendezvous point (rank 0). Returns the whole table (endpoints in
    /// rank order) once every rank has joined; otherwise a null table, with the ranks that have joined so
    /// far (none when the point did not answer). Throws <see cref="PeerRefusedException"/>
    /// when the point refuses the report (a rank or size that does not fit the job).
    /// </summary>
    public async Task<(string[]? Table, int[] Joined)> JoinAsync(int rank, int worldSize, string endpoint)
    {
        var reply = await RequestAsync(PeerOp.Join, static (frame, s, _) => frame.Int32(s.rank).Int32(s.worldSize).Bytes(Encoding.UTF8.GetBytes(s.endpoint)), (rank, worldSize, endpoint));
        if (reply is null)
        {
            return (null, []);
        }

        var payload = new PeerPayloadReader(reply.Payload);
        switch (reply.Op)
        {
            case PeerOp.Table when payload.TryReadCount(4, out var count):
                var table = new string[count];
                for (var i = 0; i < count; i++)
                {
                    if (!payload.TryReadBytes(out var entry))
                    {
                        return (null, []);
                    }

                    table[i] = Encoding.UTF8.GetString(entry);
                }

                return (table, [.. Enumerable.Range(0, count)]);
            case PeerOp.Waiting when payload.TryReadCount(4, out var count):
                var joined = new int[count];
                for (var i = 0; i < count && payload.TryReadInt32(out joined[i]); i++)
                {
                }

                return (null, joined);
            case PeerOp.Error:
                throw new PeerRefusedException(payload.TryReadBytes(out var text) ? Encoding.UTF8.GetString(text) : "join refused");
            default:
                return (null, []);
        }
    }

    /// <summary>Counts the peer's keys with a prefix; null when the peer failed.</summary>
    public Task<long?> CountKeysAsync(byte[] prefix, CancellationToken cancellationToken = default) => NumberAsync(PeerOp.Count, prefix, cancellationToken);

    /// <summary>Removes the peer's keys with a prefix; the number removed, or null when the peer failed.</summary>
    public Task<long?> RemoveKeysAsync(byte[] prefix, CancellationToken cancellationToken = default) => NumberAsync(PeerOp.Clear, prefix, cancellationToken);

    /// <summary>
    /// Runs a RESP command on the peer, which must own its keys. <paramref name="command"/> is the payload encoded
    /// as <see cref="PeerOp.Command"/> describes; the caller keeps it. Returns the peer's RESP reply (a new
    /// array that belongs to the caller), or null when the peer failed or timed out.
    /// </summary>
    /// <remarks>
    /// A forwarded command is a person's or a tool's, not the training loop's: it gets
    /// <see cref="PeerClientOptions.CommandTimeout"/> rather than the data path's tight timeout, and its
    /// outcome does not move the circuit breaker (a slow KEYS-sized reply must not make the loader's reads miss).
    /// </remarks>
    public async Task<byte[]?> ExecuteAsync(byte[] command)
    {
        ArgumentNullException.ThrowIfNull(command);
        var reply = await RequestAsync(PeerOp.Command, static (frame, c, _) => frame.Raw(c), command, _options.CommandTimeout, recordOutcome: false);
        return reply?.Op == PeerOp.CommandReply ? reply.Payload : null;
    }

    /// <summary>Closes the connection; pending requests fail.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _connection?.Dispose();
            await Task.CompletedTask;
            _connectGate.Dispose();
        }
    }

    private async Task<long?> NumberAsync(PeerOp op, byte[] prefix, CancellationToken cancellationToken) =>
        ReadNumber(await RequestAsync(op, static (frame, p, _) => frame.Bytes(p), prefix, cancellationToken: cancellationToken));

    /// <summary>The number in a <see cref="PeerOp.Number"/> reply; null when there is none.</summary>
    private static long? ReadNumber(Reply? reply)
    {
        if (reply?.Op != PeerOp.Number)
        {
            return null;
        }

        var payload = new PeerPayloadReader(reply.Payload);
        return payload.TryReadInt64(out var number) ? number : null;
    }

    private async Task<Reply?> RequestAsync<TState>(PeerOp op, Action<PeerFrameBuilder, TState, int> build, TState state, TimeSpan? timeoutOverride = null, bool recordOutcome = true, bool probe = false, bool completeInline = false, CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _disposed) != 0 || (!probe && (recordOutcome ? !Breaker.AllowRequest() : Breaker.IsOpen)))
        {
            return null;
        }

        Connection? connection = null;
        uint id = 0;
        var silence = timeoutOverride ?? _options.RequestTimeout;
        try
        {
            using var timer = new CancellationTokenSource(silence, _time);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(timer.Token, cancellationToken);
            connection = await GetConnectionAsync(timeout.Token);
            id = (uint)Interlocked.Increment(ref _nextId);
            // Inline: the reader thread that sets the reply runs this method's continuation (and its caller's) itself.
            var pending = new TaskCompletionSource<Reply>(completeInline ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously);
            connection.Pending[id] = pending;
            var frame = new PeerFrameBuilder(pooled: true).Start(op, id);
            build(frame, state, connection.CompressAbove);
            var bytes = frame.Finish();

            // A large request on a slow link may take longer to send than the silence allowed: give it its size's worth.
            timer.CancelAfter(silence + TimeSpan.FromSeconds(bytes.Length / LeastBytesPerSecond));
            var end = await connection.SendAsync(bytes, timeout.Token);
            var wait = new ReplyWait(this, connection, silence, bytes.Length, end);
            frame.Release();
            wait.LookIfQueued();
            Reply reply;
            while (true)
            {
                // Outside the try below: once the reply is late by either rule, Next throws, and that
                // TimeoutException must fail the request, not be taken for the end of one look.
                var look = wait.Next();
                try
                {
                    reply = await pending.Task.WaitAsync(look, _time, cancellationToken);
                    break;
                }
                catch (TimeoutException)
                {
                    // Not yet an answer: look again at whether bytes kept coming meanwhile.
                }
            }

            if (recordOutcome)
            {
                Breaker.RecordSuccess();
            }

            return reply;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The caller gave up: not the peer's failure, so the breaker is left alone.
            connection?.Pending.TryRemove(id, out _);
            throw;
        }
        catch (Exception ex) when (ex is OperationCanceledException or TimeoutException or SocketException or IOException or ObjectDisposedException or PeerRefusedException or InvalidOperationException)
        {
            connection?.Pending.TryRemove(id, out _);
            if (recordOutcome)
            {
                Failed(op, ex);
            }
            else
            {
                LogRequestFailed(_logger, ex, _endPoint, op);
            }

            return null;
        }
    }

    /// <summary>A request that failed on the peer's side: counted, the breaker told, and the probe started once it opens.</summary>
    private void Failed(PeerOp op, Exception ex)
    {
        Interlocked.Increment(ref _failedRequests);
        Breaker.RecordFailure();
        if (Breaker.IsOpen)
        {
            StartProbing();
        }

        LogRequestFailed(_logger, ex, _endPoint, op);
    }

    /// <summary>
    /// The deadline of a reply, for the async and the synchronous paths alike: it fails once the peer has sent
    /// nothing for the silence allowed (measured from the request or the last byte received, whichever is
    /// later), or once the total deadline passes: the larger of the silence and one second, plus a second per
    /// MiB sent and received meanwhile. A stopped or cut-off peer sends nothing and fails fast; a large reply on
    /// a slow link keeps bytes coming and completes. A large request (a batch of writes) counts the peer's
    /// acknowledgements of its bytes as progress too: the peer answers only once it has read it all; and so does
    /// any request whose bytes (up to <c>end</c>, the connection's offset past its frame) are not all acknowledged
    /// yet: it is still on its way, behind others on a busy link, and the peer cannot answer what it has not got.
    /// </summary>
    internal readonly struct ReplyWait(PeerClient client, Connection connection, TimeSpan silence, long sent, long end)
    {
        private readonly long _start = client._time.GetTimestamp();
        private readonly long _receivedAtStart = connection.ReceivedBytes;
        private readonly TimeSpan _floor = silence > TimeSpan.FromSeconds(1) ? silence : TimeSpan.FromSeconds(1);

        /// <summary>
        /// Right after the send: when a good deal of what was written before is not known to have arrived (a
        /// large request, or one behind others), looks at the acknowledgements now, so that their progress
        /// while the request waits can be told from what happened before it. Otherwise free.
        /// </summary>
        public void LookIfQueued()
        {
            if (end - connection.DeliveredSeen > LargeRequest)
            {
                connection.LookAtDelivered(client._time);
            }
        }

        /// <summary>How long to wait before looking again; throws <see cref="TimeoutException"/> once the reply is late by either rule.</summary>
        public TimeSpan Next()
        {
            var time = client._time;
            var now = time.GetTimestamp();
            var quiet = time.GetElapsedTime(Math.Max(_start, connection.LastReceived), now);
            if (quiet >= silence)
            {
                // Not the peer's silence while our request is still on its way to it (behind other bytes on a
                // saturated link), nor while it reads a large one, which it answers only once it has it all:
                // while its kernel keeps acknowledging our bytes, that is progress.
                // Acknowledgements seen growing count only when they can be this request's own or those of bytes
                // just ahead of it: the previous look came after the request was sent, or some of its own bytes
                // have arrived. (An idle connection's last look may be old; what was acknowledged since then
                // belongs to requests long answered, and a peer cut off right now must still fail in time.)
                var lookedBefore = connection.DeliveredLookedAt;
                var delivered = connection.LookAtDelivered(time);
                if (delivered >= 0 && (delivered < end || sent >= LargeRequest) && (lookedBefore >= _start || delivered > end - sent))
                {
                    quiet = time.GetElapsedTime(Math.Max(Math.Max(_start, connection.LastReceived), connection.DeliveredAdvancedAt), now);
                }
            }

            var elapsed = time.GetElapsedTime(_start, now);
            var total = _floor + TimeSpan.FromSeconds((sent + connection.ReceivedBytes - _receivedAtStart) / LeastBytesPerSecond);
            if (quiet >= silence || elapsed >= total)
            {
                throw new TimeoutException(quiet >= silence ? $"The peer sent nothing for {quiet.TotalMilliseconds:0} ms." : $"The reply took longer than {total.TotalMilliseconds:0} ms.");
            }

            return silence - quiet < total - elapsed ? silence - quiet : total - elapsed;
        }
    }

    /// <summary>Starts the background probe of an open breaker, unless one runs already.</summary>
    private void StartProbing()
    {
        if (Volatile.Read(ref _disposed) == 0 && Interlocked.CompareExchange(ref _probeRunning, 1, 0) == 0)
        {
            _ = ProbeLoopAsync();
        }
    }

    /// <summary>
    /// Pings the peer until it answers, then closes the breaker: a member that is back is used again within
    /// about <see cref="PeerClientOptions.ProbeInterval"/>, whatever the fault's length. Each probe runs over a
    /// fresh connection: one that stayed silent may sit behind TCP's retransmission back-off (after a partition,
    /// seconds), and a fresh connection also proves the handshake (cluster identity and secret) again.
    /// </summary>
    private async Task ProbeLoopAsync()
    {
        var delay = FirstProbe < _options.ProbeInterval ? FirstProbe : _options.ProbeInterval;
        var probeTimeout = _options.RequestTimeout > _options.ProbeInterval ? _options.RequestTimeout : _options.ProbeInterval;
        try
        {
            while (Volatile.Read(ref _disposed) == 0 && Breaker.IsOpen)
            {
                await Task.Delay(delay, _time);
                Volatile.Read(ref _connection)?.Dispose();
                Interlocked.Increment(ref _probesSent);
                var reply = await RequestAsync(PeerOp.Ping, static (_, _, _) => { }, 0, probeTimeout, recordOutcome: false, probe: true);
                if (reply?.Op == PeerOp.Pong)
                {
                    Breaker.RecordSuccess();
                    LogPeerBack(_logger, _endPoint);
                    break;
                }

                delay = delay + delay < _options.ProbeInterval ? delay + delay : _options.ProbeInterval;
            }
        }
        finally
        {
            Volatile.Write(ref _probeRunning, 0);
        }

        // The breaker may have opened again between the last look and the flag's reset.
        if (Breaker.IsOpen)
        {
            StartProbing();
        }
    }

    private async Task<Connection> GetConnectionAsync(CancellationToken cancellationToken)
    {
        var current = Volatile.Read(ref _connection);
        if (current is { IsBroken: false })
        {
            return current;
        }

        await _connectGate.WaitAsync(cancellationToken);
        try
        {
            current = _connection;
            if (current is { IsBroken: false })
            {
                return current;
            }

            current?.Dispose();
            using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            connectTimeout.CancelAfter(_options.ConnectTimeout);
            var connection = await Connection.OpenAsync(_endPoint, _options, _received, _time, connectTimeout.Token);
            Volatile.Write(ref _connection, connection);
            return connection;
        }
        finally
        {
            _connectGate.Release();
        }
    }

    internal sealed record Reply(PeerOp Op, byte[] Payload)
    {
        public uint Id { get; init; }

        /// <summary>The value-size threshold for compression agreed on the connection that carried the reply (0: none).</summary>
        public int CompressAbove { get; init; }

        /// <summary>A <see cref="PeerOp.GetReply"/>'s values, one array each, as the reader took them off the socket (its <see cref="Payload"/> is then empty); null when malformed.</summary>
        public ReadOnlyMemory<byte>?[]? Values { get; init; }
    }

    [LoggerMessage(EventId = 3302, Level = LogLevel.Information, Message = "Peer {EndPoint} answers again; its breaker is closed")]
    private static partial void LogPeerBack(ILogger logger, EndPoint endPoint);

    [LoggerMessage(EventId = 3301, Level = LogLevel.Debug, Message = "Peer {EndPoint}: {Op} failed; its keys are misses for now")]
    private static partial void LogRequestFailed(ILogger logger, Exception exception, EndPoint endPoint, PeerOp op);
}
