using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Cache.Engine;
using Cache.Transport.Common;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cache.Transport.Peer;

/// <summary>
/// A client of one remote node over the native peer protocol: one connection carries many concurrent,
/// batched requests (each with a request id, answered as it completes). Every request has a timeout;
/// a failed or timed-out request is a miss (reads) or <see cref="SetResult.Failed"/> (writes), never an
/// exception, and after repeated failures the peer is skipped for a back-off window
/// (<see cref="Breaker"/>), then probed. A broken connection is re-established on the next request.
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
    private int _nextId;
    private int _disposed;

    /// <summary>Creates a client; it connects on first use.</summary>
    public PeerClient(EndPoint endPoint, PeerClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        ArgumentNullException.ThrowIfNull(options);
        if (options.RequestTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options.RequestTimeout), "RequestTimeout must be positive.");
        }

        if (options.CommandTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options.CommandTimeout), "CommandTimeout must be positive.");
        }

        if (options.CompressAbove < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options.CompressAbove), "CompressAbove must be 0 (never) or a positive length.");
        }

        _endPoint = endPoint;
        _options = options;
        _logger = (ILogger?)options.LoggerFactory?.CreateLogger<PeerClient>() ?? NullLogger.Instance;
        Breaker = new CircuitBreaker(options.BreakerThreshold, options.BreakerWindow, TimeSpan.FromSeconds(30));
    }

    /// <summary>Bytes of answers received from the peer so far (frame headers included), over every connection. Thread-safe.</summary>
    public long BytesReceived => Interlocked.Read(ref _received.Value);

    /// <summary>The peer's address.</summary>
    public EndPoint EndPoint => _endPoint;

    /// <summary>The breaker that skips this peer after failures.</summary>
    public CircuitBreaker Breaker { get; }

    /// <summary>Connects and completes the handshake now. Throws <see cref="PeerRefusedException"/> when the peer refuses it, <see cref="SocketException"/> when it cannot be reached.</summary>
    public async Task ConnectAsync(CancellationToken cancellationToken = default) => await GetConnectionAsync(cancellationToken);

    /// <summary>True when the peer answers a ping in time.</summary>
    public async Task<bool> PingAsync() => (await RequestAsync(PeerOp.Ping, static (_, _, _) => { }, 0))?.Op == PeerOp.Pong;

    /// <summary>
    /// Reads many keys: element i is key i's value, or null when missing. Null as a whole when the peer
    /// failed (every key a miss). The values are slices of one new array that belongs to the caller.
    /// </summary>
    public async Task<ReadOnlyMemory<byte>?[]?> GetManyAsync(IReadOnlyList<StoreKey> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var reply = await RequestAsync(PeerOp.Get, static (frame, k, _) =>
        {
            frame.Int32(k.Count);
            foreach (var key in k)
            {
                frame.Bytes(key.Span);
            }
        }, keys, cancellationToken: cancellationToken);
        if (reply?.Op != PeerOp.GetReply)
        {
            return null;
        }

        var payload = new PeerPayloadReader(reply.Payload);
        if (!payload.TryReadInt32(out var count) || count != keys.Count)
        {
            return null;
        }

        var values = new ReadOnlyMemory<byte>?[count];
        var offset = 4;
        for (var i = 0; i < count; i++)
        {
            if (!payload.TryReadInt32(out var length))
            {
                return null;
            }

            offset += 4;
            if (length >= 0)
            {
                if (!payload.TryReadRaw(length, out _))
                {
                    return null;
                }

                values[i] = reply.Payload.AsMemory(offset, length);
                offset += length;

                // With compression agreed, every value carries the codec's format byte.
                if (reply.CompressAbove > 0)
                {
                    if (ValueCodec.TryDecode(values[i]!.Value, out var decoded) != DecodeResult.Value)
                    {
                        return null;
                    }

                    values[i] = decoded;
                }
            }
        }

        return values;
    }

    /// <summary>Writes many entries; element i is entry i's outcome (<see cref="SetResult.Failed"/> for all when the peer failed).</summary>
    public async Task<SetResult[]> SetManyAsync(IReadOnlyList<KeyValuePair<StoreKey, byte[]>> entries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var results = new SetResult[entries.Count];
        Array.Fill(results, SetResult.Failed);
        var reply = await RequestAsync(PeerOp.Set, static (frame, e, compressAbove) =>
        {
            frame.Int32(e.Count);
            foreach (var (key, value) in e)
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
        }, entries, cancellationToken: cancellationToken);
        if (reply?.Op != PeerOp.SetReply)
        {
            return results;
        }

        var payload = new PeerPayloadReader(reply.Payload);
        if (!payload.TryReadInt32(out var count) || count != entries.Count)
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
    public Task<long?> CountKeysAsync(byte[] prefix) => NumberAsync(PeerOp.Count, prefix);

    /// <summary>Removes the peer's keys with a prefix; the number removed, or null when the peer failed.</summary>
    public Task<long?> RemoveKeysAsync(byte[] prefix) => NumberAsync(PeerOp.Clear, prefix);

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

    private async Task<long?> NumberAsync(PeerOp op, byte[] prefix)
    {
        var reply = await RequestAsync(op, static (frame, p, _) => frame.Bytes(p), prefix);
        if (reply?.Op != PeerOp.Number)
        {
            return null;
        }

        var payload = new PeerPayloadReader(reply.Payload);
        return payload.TryReadInt64(out var number) ? number : null;
    }

    private async Task<Reply?> RequestAsync<TState>(PeerOp op, Action<PeerFrameBuilder, TState, int> build, TState state, TimeSpan? timeoutOverride = null, bool recordOutcome = true, CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _disposed) != 0 || (recordOutcome ? !Breaker.AllowRequest() : Breaker.IsOpen))
        {
            return null;
        }

        Connection? connection = null;
        uint id = 0;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(timeoutOverride ?? _options.RequestTimeout);
            connection = await GetConnectionAsync(timeout.Token);
            id = (uint)Interlocked.Increment(ref _nextId);
            var pending = new TaskCompletionSource<Reply>(TaskCreationOptions.RunContinuationsAsynchronously);
            connection.Pending[id] = pending;
            var frame = new PeerFrameBuilder().Start(op, id);
            build(frame, state, connection.CompressAbove);
            await connection.SendAsync(frame.Finish(), timeout.Token);
            var reply = await pending.Task.WaitAsync(timeout.Token);
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
                Breaker.RecordFailure();
            }

            LogRequestFailed(_logger, ex, _endPoint, op);
            return null;
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
            var connection = await Connection.OpenAsync(_endPoint, _options, _received, connectTimeout.Token);
            Volatile.Write(ref _connection, connection);
            return connection;
        }
        finally
        {
            _connectGate.Release();
        }
    }

    private sealed record Reply(PeerOp Op, byte[] Payload)
    {
        public uint Id { get; init; }

        /// <summary>The value-size threshold for compression agreed on the connection that carried the reply (0: none).</summary>
        public int CompressAbove { get; init; }
    }

    [LoggerMessage(EventId = 3301, Level = LogLevel.Debug, Message = "Peer {EndPoint}: {Op} failed; its keys are misses for now")]
    private static partial void LogRequestFailed(ILogger logger, Exception exception, EndPoint endPoint, PeerOp op);
}
