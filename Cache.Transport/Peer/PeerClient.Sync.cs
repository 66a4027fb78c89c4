using Cache.Engine;

namespace Cache.Transport.Peer;

/// <summary>
/// The synchronous read path, for indexers that must be synchronous: the request is written on the calling
/// thread and the caller waits on its reply's completion, which the connection's reader thread sets
/// directly (a blocked <see cref="Task.Wait(TimeSpan)"/> is woken inline, not through the thread pool), so
/// synchronous readers that occupy every pool thread still get their replies, as StackExchange.Redis's
/// synchronous path does.
/// </summary>
internal sealed partial class PeerClient
{
    /// <summary>Reads many keys synchronously; as <see cref="GetManyAsync(IReadOnlyList{StoreKey}, CancellationToken)"/> otherwise.</summary>
    public ReadOnlyMemory<byte>?[]? GetMany(IReadOnlyList<StoreKey> keys) => EndGetMany(BeginGetMany(keys));

    /// <summary>Sends a read and returns at once, so that reads to several peers are in flight together; <see cref="EndGetMany"/> waits for it.</summary>
    public SyncRequest BeginGetMany(IReadOnlyList<StoreKey> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        return Begin(PeerOp.Get, static (frame, k, _) => PeerGetCodec.WriteRequest(frame, k), keys, keys.Count);
    }

    /// <summary>Waits for a read begun by <see cref="BeginGetMany"/>: element i is key i's value or null; null as a whole when the peer failed.</summary>
    public ReadOnlyMemory<byte>?[]? EndGetMany(SyncRequest request) =>
        End(request) is { Op: PeerOp.GetReply } reply ? PeerGetCodec.Values(reply.Values, request.Count, reply.CompressAbove > 0) : null;

    /// <summary>Sends a batched write and returns at once, so that writes to several peers are in flight together; <see cref="EndSetMany"/> waits for it.</summary>
    public SyncRequest BeginSetMany(IReadOnlyList<KeyValuePair<StoreKey, byte[]>> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        return Begin(PeerOp.Set, WriteSetRequest, entries, entries.Count);
    }

    /// <summary>Waits for a write begun by <see cref="BeginSetMany"/>: element i is entry i's outcome (<see cref="SetResult.Failed"/> for all when the peer failed).</summary>
    public SetResult[] EndSetMany(SyncRequest request) => ReadSetReply(End(request), request.Count);

    /// <summary>Sends a count (<see cref="PeerOp.Count"/>) or removal (<see cref="PeerOp.Clear"/>) of the keys under a prefix; <see cref="EndNumber"/> waits for it.</summary>
    public SyncRequest BeginNumber(PeerOp op, byte[] prefix) => Begin(op, static (frame, p, _) => frame.Bytes(p), prefix, 1);

    /// <summary>Waits for a request begun by <see cref="BeginNumber"/>: the peer's number, or null when it failed.</summary>
    public long? EndNumber(SyncRequest request) => ReadNumber(End(request));

    private SyncRequest Begin<TState>(PeerOp op, Action<PeerFrameBuilder, TState, int> build, TState state, int count)
    {
        if (Volatile.Read(ref _disposed) != 0 || !Breaker.AllowRequest())
        {
            return new SyncRequest(null, 0, null, default, count);
        }

        Connection? connection = null;
        uint id = 0;
        try
        {
            connection = Volatile.Read(ref _connection);
            if (connection is not { IsBroken: false })
            {
                // Connecting is rare (the first request, or after a failure): that one wait may use the pool.
                using var connectTimeout = new CancellationTokenSource(_options.RequestTimeout);
                connection = GetConnectionAsync(connectTimeout.Token).GetAwaiter().GetResult();
            }

            id = (uint)Interlocked.Increment(ref _nextId);
            var pending = new TaskCompletionSource<Reply>(TaskCreationOptions.RunContinuationsAsynchronously);
            connection.Pending[id] = pending;
            var frame = new PeerFrameBuilder(pooled: true).Start(op, id);
            build(frame, state, connection.CompressAbove);
            var bytes = frame.Finish();
            var end = connection.Send(bytes.Span, _options.RequestTimeout);
            var wait = new ReplyWait(this, connection, op == PeerOp.Set ? WriteSilence : _options.RequestTimeout, bytes.Length, end);
            frame.Release();
            wait.LookIfQueued();
            return new SyncRequest(connection, id, pending, wait, count) { Op = op };
        }
        catch (Exception ex) when (ex is OperationCanceledException or TimeoutException or System.Net.Sockets.SocketException or IOException or ObjectDisposedException or PeerRefusedException or InvalidOperationException)
        {
            connection?.Pending.TryRemove(id, out _);
            Failed(op, ex);
            return new SyncRequest(null, 0, null, default, count);
        }
    }

    private Reply? End(SyncRequest request)
    {
        if (request.Pending is not { } pending)
        {
            return null;
        }

        try
        {
            // Woken by the connection's reader thread, which completes the reply itself; the same silence rule as the async path.
            while (!pending.Task.Wait(request.Wait.Next()))
            {
            }

            Breaker.RecordSuccess();
            return pending.Task.Result;
        }
        catch (Exception ex) when (ex is TimeoutException or AggregateException)
        {
            (request.Connection as Connection)?.Pending.TryRemove(request.Id, out _);
            Failed(request.Op, ex);
            return null;
        }
    }

    /// <summary>A synchronous request on its way: where it went and what completes when its reply arrives.</summary>
    internal readonly record struct SyncRequest(object? Connection, uint Id, TaskCompletionSource<Reply>? Pending, ReplyWait Wait, int Count)
    {
        public PeerOp Op { get; init; }
    }

    internal sealed partial class Connection
    {
        /// <summary>Writes a frame on the calling thread (no task): the send lock, then the socket. Returns the connection's offset just past it.</summary>
        public long Send(ReadOnlySpan<byte> frame, TimeSpan timeout)
        {
            if (!_sendLock.Wait(timeout))
            {
                throw new TimeoutException("The peer connection's send lock was not free in time.");
            }

            try
            {
                _stream.Write(frame);
                return Interlocked.Add(ref _written, frame.Length);
            }
            catch
            {
                Break();
                throw;
            }
            finally
            {
                _sendLock.Release();
            }
        }
    }
}
