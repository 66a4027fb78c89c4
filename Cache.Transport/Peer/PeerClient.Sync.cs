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
    /// <summary>Reads many keys synchronously; as <see cref="GetManyAsync"/> otherwise.</summary>
    public ReadOnlyMemory<byte>?[]? GetMany(IReadOnlyList<StoreKey> keys) => EndGetMany(BeginGetMany(keys));

    /// <summary>Sends a read and returns at once, so that reads to several peers are in flight together; <see cref="EndGetMany"/> waits for it.</summary>
    public SyncRequest BeginGetMany(IReadOnlyList<StoreKey> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        return Begin(PeerOp.Get, static (frame, k, _) => PeerGetCodec.WriteRequest(frame, k), keys, keys.Count);
    }

    /// <summary>Waits for a read begun by <see cref="BeginGetMany"/>: element i is key i's value or null; null as a whole when the peer failed.</summary>
    public ReadOnlyMemory<byte>?[]? EndGetMany(SyncRequest request) =>
        End(request) is { Op: PeerOp.GetReply } reply ? PeerGetCodec.ReadReply(reply.Payload, request.Count, reply.CompressAbove > 0) : null;

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
            var frame = new PeerFrameBuilder().Start(op, id);
            build(frame, state, connection.CompressAbove);
            var bytes = frame.Finish();
            var end = connection.Send(bytes.Span, _options.RequestTimeout);
            var wait = new ReplyWait(this, connection, _options.RequestTimeout, bytes.Length, end);
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
        private Thread? _receiver;

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

        /// <summary>Starts the reader: a thread of its own that reads replies synchronously and completes their waiters.</summary>
        private void StartReceiving()
        {
            _receiver = new Thread(ReceiveLoop) { IsBackground = true, Name = "peer-client reader" };
            _receiver.Start();
        }

        private void ReceiveLoop()
        {
            try
            {
                var buffer = new byte[256 * 1024];
                var filled = 0;

                // Bytes the handshake's pipe reader already took off the socket come first.
                if (_reader.TryRead(out var early))
                {
                    if (early.Buffer.Length > buffer.Length)
                    {
                        buffer = new byte[early.Buffer.Length];
                    }

                    System.Buffers.BuffersExtensions.CopyTo(early.Buffer, buffer);
                    filled = (int)early.Buffer.Length;
                    _reader.AdvanceTo(early.Buffer.End);
                }

                while (true)
                {
                    var start = 0;
                    var needed = PeerFrame.HeaderLength;
                    while (filled - start >= PeerFrame.HeaderLength)
                    {
                        PeerFrame.TryReadHeader(buffer.AsSpan(start, PeerFrame.HeaderLength), out var length, out var op, out var id);
                        if (length < 0 || length > (1 << 30))
                        {
                            throw new IOException($"The peer sent a frame of {length} bytes.");
                        }

                        var total = PeerFrame.HeaderLength + length;
                        if (filled - start < total)
                        {
                            needed = total;
                            break;
                        }

                        var payload = buffer.AsSpan(start + PeerFrame.HeaderLength, length).ToArray();
                        Interlocked.Add(ref _received.Value, total);
                        start += total;
                        if (Pending.TryRemove(id, out var waiting))
                        {
                            waiting.TrySetResult(new Reply(op, payload) { Id = id, CompressAbove = CompressAbove });
                        }
                    }

                    // Keep the unparsed tail at the front; grow for a frame larger than the buffer.
                    var tail = filled - start;
                    var target = needed > buffer.Length ? new byte[needed] : buffer;
                    Buffer.BlockCopy(buffer, start, target, 0, tail);
                    buffer = target;
                    filled = tail;
                    var read = _stream.Read(buffer, filled, buffer.Length - filled);
                    if (read == 0)
                    {
                        return;
                    }

                    // What the silence deadline looks at: bytes keep coming, even before a whole frame has.
                    Interlocked.Add(ref _receivedBytes, read);
                    Volatile.Write(ref _lastReceived, _time.GetTimestamp());

                    filled += read;
                }
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or InvalidOperationException)
            {
                // The connection is gone: every waiter fails over to a miss below.
            }
            finally
            {
                Break();
            }
        }
    }
}
