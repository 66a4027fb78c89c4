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

/// <summary>The peer refused the handshake (another cluster, another protocol version, a wrong secret).</summary>
public sealed class PeerRefusedException(string message) : Exception(message);

/// <summary>
/// A client of one remote node over the native peer protocol: one connection carries many concurrent,
/// batched requests (each with a request id, answered as it completes). Every request has a timeout;
/// a failed or timed-out request is a miss (reads) or <see cref="SetResult.Failed"/> (writes), never an
/// exception, and after repeated failures the peer is skipped for a back-off window
/// (<see cref="Breaker"/>), then probed. A broken connection is re-established on the next request.
/// </summary>
/// <remarks>Thread-safe. Keys and values passed in are only read; values returned are new arrays owned by the caller.</remarks>
public sealed partial class PeerClient : IAsyncDisposable
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
    public async Task<ReadOnlyMemory<byte>?[]?> GetManyAsync(IReadOnlyList<StoreKey> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var reply = await RequestAsync(PeerOp.Get, static (frame, k, _) =>
        {
            frame.Int32(k.Count);
            foreach (var key in k)
            {
                frame.Bytes(key.Span);
            }
        }, keys);
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
    public async Task<SetResult[]> SetManyAsync(IReadOnlyList<KeyValuePair<StoreKey, byte[]>> entries)
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
        }, entries);
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

    private async Task<Reply?> RequestAsync<TState>(PeerOp op, Action<PeerFrameBuilder, TState, int> build, TState state, TimeSpan? timeoutOverride = null, bool recordOutcome = true)
    {
        if (Volatile.Read(ref _disposed) != 0 || (recordOutcome ? !Breaker.AllowRequest() : Breaker.IsOpen))
        {
            return null;
        }

        Connection? connection = null;
        uint id = 0;
        try
        {
            using var timeout = new CancellationTokenSource(timeoutOverride ?? _options.RequestTimeout);
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

    /// <summary>One connection: a send lock, the requests waiting for answers, and the loop that reads answers.</summary>
    private sealed class Connection : IDisposable
    {
        private readonly Socket _socket;
        private readonly NetworkStream _stream;
        private readonly PipeReader _reader;
        private readonly SemaphoreSlim _sendLock = new(1, 1);
        private int _broken;

        private readonly System.Runtime.CompilerServices.StrongBox<long> _received;

        private Connection(Socket socket, System.Runtime.CompilerServices.StrongBox<long> received)
        {
            _received = received;
            _socket = socket;
            _stream = new NetworkStream(socket, ownsSocket: true);
            _reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 256 * 1024, minimumReadSize: 64 * 1024, leaveOpen: true));
        }

        public ConcurrentDictionary<uint, TaskCompletionSource<Reply>> Pending { get; } = new();

        public bool IsBroken => Volatile.Read(ref _broken) != 0;

        /// <summary>Values at least this long may travel LZ4-compressed on this connection, as both sides agreed in the handshake (0: never).</summary>
        public int CompressAbove { get; private set; }

        public static async Task<Connection> OpenAsync(EndPoint endPoint, PeerClientOptions options, System.Runtime.CompilerServices.StrongBox<long> received, CancellationToken cancellationToken)
        {
            var socket = new Socket(endPoint.AddressFamily == AddressFamily.Unspecified ? AddressFamily.InterNetwork : endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            Connection? connection = null;
            try
            {
                await socket.ConnectAsync(endPoint, cancellationToken);
                connection = new Connection(socket, received);
                await connection.HandshakeAsync(options, cancellationToken);
                _ = connection.ReceiveLoopAsync();
                return connection;
            }
            catch
            {
                if (connection is null)
                {
                    socket.Dispose();
                }
                else
                {
                    connection.Dispose();
                }

                throw;
            }
        }

        public async Task SendAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
        {
            await _sendLock.WaitAsync(cancellationToken);
            try
            {
                await _stream.WriteAsync(frame, cancellationToken);
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

        public void Dispose()
        {
            Break();
            _reader.Complete();
            _stream.Dispose();
        }

        private void Break()
        {
            if (Interlocked.Exchange(ref _broken, 1) == 0)
            {
                foreach (var id in Pending.Keys)
                {
                    if (Pending.TryRemove(id, out var waiting))
                    {
                        waiting.TrySetException(new IOException("The peer connection closed."));
                    }
                }
            }
        }

        private async Task HandshakeAsync(PeerClientOptions options, CancellationToken cancellationToken)
        {
            var nonce = PeerAuth.NewNonce();
            var hello = new PeerFrameBuilder().Start(PeerOp.Hello, 0).Int32(PeerFrame.Version).Bytes(Encoding.UTF8.GetBytes(options.ClusterId)).Bytes(nonce).Int32(options.CompressAbove);
            var preamble = PeerFrame.Preamble.ToArray();
            await _stream.WriteAsync(preamble, cancellationToken);
            await _stream.WriteAsync(hello.Finish(), cancellationToken);
            var reply = await ReadFrameAsync(cancellationToken) ?? throw new IOException("The peer closed the connection during the handshake.");
            if (reply.Op == PeerOp.Challenge)
            {
                var payload = new PeerPayloadReader(reply.Payload);
                if (options.Secret is not { Length: > 0 } secret
                    || !payload.TryReadBytes(out var serverNonce)
                    || !payload.TryReadBytes(out var serverProof)
                    || !PeerAuth.Verify(secret, "server", nonce, serverNonce, serverProof))
                {
                    throw new PeerRefusedException("The peer could not prove the shared secret (or this node has none).");
                }

                var proof = new PeerFrameBuilder().Start(PeerOp.Proof, 0).Bytes(PeerAuth.Proof(secret, "client", serverNonce, nonce));
                await _stream.WriteAsync(proof.Finish(), cancellationToken);
                reply = await ReadFrameAsync(cancellationToken) ?? throw new IOException("The peer closed the connection during the handshake.");
            }

            if (reply.Op == PeerOp.Error)
            {
                var payload = new PeerPayloadReader(reply.Payload);
                var message = payload.TryReadBytes(out var text) ? Encoding.UTF8.GetString(text) : "refused";
                throw new PeerRefusedException($"The peer refused the connection: {message}.");
            }

            if (reply.Op != PeerOp.HelloOk)
            {
                throw new PeerRefusedException($"The peer answered the handshake with {reply.Op}.");
            }

            // The server answers with the threshold it accepts: the client's, or 0 when it declines.
            var accepted = new PeerPayloadReader(reply.Payload);
            CompressAbove = options.CompressAbove > 0 && accepted.TryReadInt32(out var threshold) && threshold == options.CompressAbove ? threshold : 0;
        }

        private async Task<Reply?> ReadFrameAsync(CancellationToken cancellationToken)
        {
            var header = new byte[PeerFrame.HeaderLength];
            while (true)
            {
                var result = await _reader.ReadAsync(cancellationToken);
                var buffer = result.Buffer;
                if (buffer.Length >= PeerFrame.HeaderLength)
                {
                    buffer.Slice(0, PeerFrame.HeaderLength).CopyTo(header);
                    PeerFrame.TryReadHeader(header, out var length, out var op, out var id);
                    if (length < 0 || length > (1 << 30))
                    {
                        throw new IOException($"The peer sent a frame of {length} bytes.");
                    }

                    var total = PeerFrame.HeaderLength + length;
                    if (buffer.Length >= total)
                    {
                        var payload = buffer.Slice(PeerFrame.HeaderLength, length).ToArray();
                        Interlocked.Add(ref _received.Value, total);
                        _reader.AdvanceTo(buffer.GetPosition(total));
                        return new Reply(op, payload) { Id = id, CompressAbove = CompressAbove };
                    }
                }

                if (result.IsCompleted || result.IsCanceled)
                {
                    _reader.AdvanceTo(buffer.End);
                    return null;
                }

                // Not a whole frame yet: wait for more bytes.
                _reader.AdvanceTo(buffer.Start, buffer.End);
            }
        }

        private async Task ReceiveLoopAsync()
        {
            try
            {
                while (await ReadFrameAsync(CancellationToken.None) is { } reply)
                {
                    if (Pending.TryRemove(reply.Id, out var waiting))
                    {
                        waiting.TrySetResult(reply);
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
            {
            }
            finally
            {
                Break();
            }
        }
    }

    [LoggerMessage(EventId = 3301, Level = LogLevel.Debug, Message = "Peer {EndPoint}: {Op} failed; its keys are misses for now")]
    private static partial void LogRequestFailed(ILogger logger, Exception exception, EndPoint endPoint, PeerOp op);
}
