using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Cache.Transport.Mesh;
using Cache.Transport.Peer;
using Cache.Transport.Resp;
using Cache.Transport.Resp.Commands;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cache.Transport.Server;

/// <summary>
/// The node's TCP port. Each connection is served through System.IO.Pipelines; its first byte decides
/// the protocol: RESP (redis-cli, redis-benchmark, any Redis client) or the native peer protocol
/// (<see cref="Peer.PeerFrame.Preamble"/>, which opens with a NUL byte: no RESP command begins with one).
/// </summary>
/// <remarks>Thread-safe. Start once; dispose to stop listening and close every connection.</remarks>
internal sealed partial class Listener : IAsyncDisposable, IDisposable
{
    private static readonly PipeOptions InputOptions = new(
        pauseWriterThreshold: 1024 * 1024,
        resumeWriterThreshold: 512 * 1024,
        minimumSegmentSize: 64 * 1024,
        readerScheduler: PipeScheduler.Inline,
        writerScheduler: PipeScheduler.Inline,
        useSynchronizationContext: false);

    private readonly ServerContext _context;
    private readonly PeerServices _peers;
    private readonly PeerServerOptions _options;
    private readonly PipeOptions _outputOptions;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<long, Socket> _sockets = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _connections = [];
    private readonly Lock _connectionsGate = new();
    private Socket? _listener;
    private Task? _acceptLoop;
    private Timer? _opsSampler;
    private EventLoopTurns? _turns;
    private long _lastCommands;
    private int _disposed;

    /// <summary>Creates a listener for <paramref name="host"/>'s store. Throws <see cref="ArgumentException"/> naming a wrong option.</summary>
    public Listener(IRespHost host, PeerServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.BindAddress, nameof(options.BindAddress));
        Check(options.Port is >= 0 and <= 65535, nameof(options.Port), "Port must be 0-65535.");
        Check(options.MaxClients >= 1, nameof(options.MaxClients), "MaxClients must be at least 1.");
        Check(options.MaxBulkLength >= 1, nameof(options.MaxBulkLength), "MaxBulkLength must be positive.");
        Check(options.MaxMultibulkLength >= 1, nameof(options.MaxMultibulkLength), "MaxMultibulkLength must be positive.");
        Check(options.MaxInlineLength >= 16, nameof(options.MaxInlineLength), "MaxInlineLength must be at least 16.");
        Check(options.MaxQueryBuffer >= options.MaxInlineLength && options.MaxQueryBuffer <= Array.MaxLength, nameof(options.MaxQueryBuffer), "MaxQueryBuffer must be at least MaxInlineLength and at most 2 GB.");
        Check(options.MaxOutputBuffer >= 64 * 1024, nameof(options.MaxOutputBuffer), "MaxOutputBuffer must be at least 64 KB.");
        Check(options.SendLowWatermark >= 0, nameof(options.SendLowWatermark), "SendLowWatermark must not be negative.");
        _options = options;
        _context = new ServerContext(host, options.ToRespSettings());
        _peers = new PeerServices(host.Store, options.ClusterId, options.Secret, options.MaxQueryBuffer) { Commands = new ForwardedCommands(_context) };
        _logger = (ILogger?)options.LoggerFactory?.CreateLogger("Cache.Transport.PeerServer") ?? NullLogger.Instance;
        _outputOptions = new PipeOptions(
            pauseWriterThreshold: Math.Max(64 * 1024, options.MaxOutputBuffer / 2),
            resumeWriterThreshold: Math.Max(32 * 1024, options.MaxOutputBuffer / 4),
            minimumSegmentSize: 64 * 1024,
            readerScheduler: PipeScheduler.Inline,
            writerScheduler: PipeScheduler.Inline,
            useSynchronizationContext: false);
    }

    /// <summary>The address and port the server listens on (after <see cref="Start"/>).</summary>
    public IPEndPoint EndPoint => (IPEndPoint?)_listener?.LocalEndPoint ?? throw new InvalidOperationException("The server has not started.");

    /// <summary>Makes this server rank 0's rendezvous point: peers report their endpoints here and receive the table.</summary>
    public void HostRendezvous(RendezvousBoard board) => _peers.Rendezvous = board;

    /// <summary>Clients connected now.</summary>
    public int ClientCount => _context.Clients.Count;

    /// <summary>Binds and starts accepting. Throws <see cref="SocketException"/> when the address is taken.</summary>
    public void Start()
    {
        if (_listener is not null)
        {
            throw new InvalidOperationException("The server has already started.");
        }

        var options = _options;
        var listener = new Socket(options.BindAddress.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(new IPEndPoint(options.BindAddress, options.Port));
            listener.Listen(512);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        _listener = listener;
        // Turns only where connections share one inline event thread (cache-node's setting; see EventLoopTurns).
        _turns = Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") == "1"
            && Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT") == "1"
            ? EventLoopTurns.TryCreate()
            : null;
        _context.Port = EndPoint.Port;
        _opsSampler = new Timer(static s => ((Listener)s!).SampleOps(), this, 1000, 1000);
        _acceptLoop = Task.Run(AcceptLoopAsync);
        LogListening(_logger, EndPoint);
    }

    /// <summary>As <see cref="DisposeAsync"/>, blocking until the connections have ended.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>Stops accepting, closes every connection and waits for them to end.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync();

        // Commands held by CLIENT PAUSE end with their connections, not with the pause.
        _context.Pause.Dispose();
        _listener?.Dispose();
        _opsSampler?.Dispose();
        foreach (var socket in _sockets.Values)
        {
            socket.Dispose();
        }

        Task[] pending;
        lock (_connectionsGate)
        {
            pending = [.. _connections];
        }

        if (_acceptLoop is not null)
        {
            pending = [.. pending, _acceptLoop];
        }

        await Task.WhenAny(Task.WhenAll(pending), Task.Delay(TimeSpan.FromSeconds(5)));
        _turns?.Dispose();
        _stopping.Dispose();
    }

    private static void Check(bool ok, string option, string message)
    {
        if (!ok)
        {
            throw new ArgumentOutOfRangeException(option, message);
        }
    }

    private void SampleOps()
    {
        var now = _context.CommandsProcessed.Read();
        _context.InstantaneousOpsPerSecond = now - Interlocked.Exchange(ref _lastCommands, now);
    }

    private async Task AcceptLoopAsync()
    {
        var listener = _listener!;
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stopping.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                LogAcceptFailed(_logger, ex);
                continue;
            }

            var task = ServeAsync(socket);
            lock (_connectionsGate)
            {
                _connections.RemoveAll(t => t.IsCompleted);
                _connections.Add(task);
            }
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        // Registered before anything else, so that a server being disposed meanwhile closes it too.
        var id = _context.NextClientId();
        _sockets[id] = socket;
        if (_stopping.IsCancellationRequested)
        {
            _sockets.TryRemove(id, out _);
            socket.Dispose();
            return;
        }

        // Let the accept loop go on at once; the connection runs on the pool.
        await Task.Yield();
        Interlocked.Increment(ref _context.ConnectionsReceived);
        ClientInfo client;
        try
        {
            socket.NoDelay = true;
            client = new ClientInfo(id, socket.RemoteEndPoint, socket.LocalEndPoint, _context.Store.NowUnixMs) { Fd = socket.Handle.ToInt64() };
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            _sockets.TryRemove(id, out _);
            socket.Dispose();
            return;
        }

        var input = new Pipe(InputOptions);
        var output = new Pipe(_outputOptions);
        var receiving = SocketPumps.ReceiveAsync(socket, input.Writer, _turns);
        var sending = SocketPumps.SendAsync(socket, output.Reader);
        var registered = false;
        var abort = false;
        try
        {
            var connection = new RespConnection(_context, output.Writer, client, _logger);
            // Taking the slot and checking the limit is one atomic step, so that a burst of connections
            // cannot all pass the check before any of them is counted.
            if (Interlocked.Increment(ref _context.ClientSlots) > _context.Options.MaxClients)
            {
                Interlocked.Decrement(ref _context.ClientSlots);
                Interlocked.Increment(ref _context.RejectedConnections);
                var writer = new RespWriter(output.Writer);
                writer.Error("ERR max number of clients reached");
                await output.Writer.FlushAsync();
                return;
            }

            _context.Clients[id] = client;
            registered = true;

            // Peers prove the cluster's secret in their own handshake; protected mode is about RESP clients.
            if (await IsPeerPreambleAsync(input.Reader))
            {
                await new PeerConnection(_peers, output.Writer, _logger).RunAsync(input.Reader);
                return;
            }

            // RESP clients only: a peer reads one large batch at a time and wants it as fast as the kernel
            // can queue it (measured: a watermark cut batched 100 KB peer reads by a fifth).
            SocketPumps.LimitUnsentBytes(socket, _options.SendLowWatermark);
            if (RespConnection.IsDenied(_context.Options, socket.RemoteEndPoint))
            {
                Interlocked.Increment(ref _context.RejectedConnections);
                await connection.DenyAsync();
                return;
            }

            await connection.RunAsync(input.Reader);
            abort = connection.Overflowed;
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            LogConnectionFailed(_logger, id, ex);
        }
        finally
        {
            if (registered)
            {
                _context.Clients.TryRemove(id, out _);
                Interlocked.Decrement(ref _context.ClientSlots);
            }

            await input.Reader.CompleteAsync();
            await output.Writer.CompleteAsync();
            if (abort)
            {
                socket.Dispose();
            }

            // Let the replies already written go out, then close.
            await Task.WhenAny(sending, Task.Delay(TimeSpan.FromSeconds(5)));
            try
            {
                socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
            }

            socket.Dispose();
            await receiving;
            _sockets.TryRemove(id, out _);
        }
    }

    /// <summary>
    /// True when the connection opens with the native peer protocol's whole preamble. A connection that opens
    /// with its NUL byte but goes on otherwise is a RESP client after all (Redis's protocol-desync test sends
    /// one): it is served as RESP, so that it gets Redis's protocol error instead of a silent close.
    /// </summary>
    private static async Task<bool> IsPeerPreambleAsync(PipeReader reader)
    {
        var preamble = Peer.PeerFrame.Preamble.Length;
        var head = new byte[preamble];
        while (true)
        {
            var result = await reader.ReadAsync();
            var buffer = result.Buffer;
            if (buffer.IsEmpty || buffer.FirstSpan[0] != Peer.PeerFrame.Preamble[0])
            {
                reader.AdvanceTo(buffer.Start);
                return false;
            }

            var seen = (int)Math.Min(buffer.Length, preamble);
            buffer.Slice(0, seen).CopyTo(head);
            var matches = head.AsSpan(0, seen).SequenceEqual(Peer.PeerFrame.Preamble[..seen]);
            if (!matches || seen == preamble || result.IsCompleted || result.IsCanceled)
            {
                reader.AdvanceTo(buffer.Start);
                return matches;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "Listening on {EndPoint}")]
    private static partial void LogListening(ILogger logger, EndPoint endPoint);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "Accepting a connection failed")]
    private static partial void LogAcceptFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3103, Level = LogLevel.Debug, Message = "Connection {ClientId} ended with an error")]
    private static partial void LogConnectionFailed(ILogger logger, long clientId, Exception exception);

}
