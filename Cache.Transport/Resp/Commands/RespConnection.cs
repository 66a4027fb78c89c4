using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Cache.Transport.Common;
using Microsoft.Extensions.Logging;
using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>
/// Serves one RESP client over a pair of pipes: parses every complete command in what has arrived,
/// executes it, and writes the replies, then advances the input past what it consumed. Knows nothing
/// of sockets, so that tests drive it over in-memory pipes with any fragmentation. Not thread-safe:
/// one per connection.
/// </summary>
/// <remarks>
/// Commands are parsed in place from the pipe's buffer when they lie in one segment. A command that
/// straddles segments, or is too large to wait for in the pipe, is moved to a staging buffer that
/// grows only with bytes actually received (never with a length the client claims), up to
/// <see cref="RespServerSettings.MaxQueryBuffer"/>.
/// </remarks>
internal sealed partial class RespConnection
{
    /// <summary>Replies buffered before the loop stops parsing to flush them.</summary>
    private const int FlushThreshold = 256 * 1024;

    /// <summary>An incomplete command larger than this leaves the pipe for the staging buffer, so that the pipe's pause threshold never stalls it.</summary>
    private const int StageAbove = 32 * 1024;

    private const string DeniedText =
        "DENIED Running in protected mode because protected mode is enabled and no password is set for the default user. " +
        "In this mode connections are only accepted from the loopback interface. If you want to connect from external computers, " +
        "you may adopt one of the following solutions: 1) Set a password (--requirepass) and have clients authenticate. " +
        "2) Bind to the loopback interface only. 3) Disable protected mode (ProtectedMode = false), but MAKE SURE the server " +
        "is not publicly accessible from the internet if you do so.";

    private readonly ServerContext _server;
    private readonly ILogger _logger;
    private readonly RespRequest _request = new();
    private readonly RespSession _session;
    private readonly RespWriter _writer;
    private readonly PipeWriter _output;
    private byte[] _staging = [];
    private int _stagingLength;
    private long _stagingNeeded;
    private bool _close;

    /// <summary>Commands after the current one whose keys were already hinted to the store (see <see cref="PrefetchKeys"/>).</summary>
    private int _prefetched;

    /// <summary>True when the client exceeded the output buffer limit: its pending replies must be dropped, not sent.</summary>
    public bool Overflowed { get; private set; }

    public RespConnection(ServerContext server, PipeWriter output, ClientInfo client, ILogger logger)
    {
        _server = server;
        _output = output;
        _logger = logger;
        _writer = new RespWriter(output);
        _session = new RespSession(server, _writer, client);
    }

    /// <summary>True when a client at <paramref name="remote"/> must be refused under protected mode.</summary>
    public static bool IsDenied(RespServerSettings options, EndPoint? remote) =>
        options.ProtectedMode
        && string.IsNullOrEmpty(options.RequirePass)
        && !IPAddress.IsLoopback(options.BindAddress)
        && !(remote is IPEndPoint ip && IPAddress.IsLoopback(ip.Address));

    /// <summary>Refuses the client with Redis's protected-mode error.</summary>
    public async Task DenyAsync()
    {
        _writer.Error(DeniedText);
        await _output.FlushAsync();
    }

    /// <summary>Serves the client until it disconnects, sends QUIT, or breaks the protocol. To stop it from outside, complete or cancel the pipes (a per-read cancellation token would cost every read a registration).</summary>
    public async Task RunAsync(PipeReader input)
    {
        var client = _session.Client;
        _session.Wake = () =>
        {
            input.CancelPendingRead();
            if (client.Killed || _session.Monitor is { Overflowed: true })
            {
                // A flush waiting on a reader that does not read must end too.
                _output.CancelPendingFlush();
            }
        };
        client.Kill = _session.Wake;
        client.PendingOutput = () => _output.UnflushedBytes;
        try
        {
            while (!_close && !client.Killed)
            {
                var result = await input.ReadAsync();
                var buffer = result.Buffer;

                // Process stops early when replies pile up (flush them) or a command went to another member
                // of the mesh (wait for its reply, so that replies keep their order); then it goes on with
                // the same buffer.
                while (true)
                {
                    var examinedAll = Process(ref buffer);
                    var held = _session.Holding;
                    if (_session.TakePending() is { } pending)
                    {
                        if (held && !pending.IsCompleted && _output.UnflushedBytes > 0)
                        {
                            // A command held by CLIENT PAUSE may wait long: the replies before it go out now, as Redis sends them.
                            await _output.FlushAsync();
                        }

                        await pending;
                        if (OutputFull() && Overflowed)
                        {
                            break;
                        }
                    }

                    if (examinedAll || _close)
                    {
                        break;
                    }

                    if (_output.UnflushedBytes >= FlushThreshold)
                    {
                        var early = await _output.FlushAsync();
                        if (early.IsCompleted)
                        {
                            _close = true;
                        }
                    }
                }

                input.AdvanceTo(buffer.Start, buffer.End);
                _session.Client.LastInteractionMs = _server.Store.NowUnixMs;
                if (Overflowed || client.Killed)
                {
                    break;
                }

                if (_session.Monitor is { } monitor)
                {
                    if (monitor.Overflowed)
                    {
                        LogOutputBufferExceeded(_logger, client.Id, monitor.QueuedBytes);
                        Overflowed = true;
                        break;
                    }

                    monitor.Drain(_output);
                }

                if (_output.UnflushedBytes > 0)
                {
                    var flush = await _output.FlushAsync();
                    if (flush.IsCompleted || client.Killed)
                    {
                        break;
                    }

                    if (flush.IsCanceled && _session.Monitor is { Overflowed: true })
                    {
                        LogOutputBufferExceeded(_logger, client.Id, _session.Monitor.QueuedBytes);
                        Overflowed = true;
                        break;
                    }
                }

                // A monitor is woken by cancelling its read: it goes on reading. Anyone else cancelled stops.
                if (result.IsCompleted || (result.IsCanceled && _session.Monitor is null))
                {
                    break;
                }
            }
        }
        finally
        {
            _session.StopMonitor();
            ReleaseStaging();
        }
    }

    /// <summary>Gives the staging buffer back: to the pool when it is of an ordinary size, to the GC when one huge command grew it.</summary>
    private void ReleaseStaging()
    {
        if (_staging.Length is > 0 and <= 16 * 1024 * 1024)
        {
            ArrayPool<byte>.Shared.Return(_staging);
        }

        _staging = [];
    }

    /// <summary>
    /// Executes every complete command in <paramref name="buffer"/> (and the staging buffer), advancing it
    /// past what was consumed. Returns true when everything was examined (wait for more bytes), false when
    /// it stopped early so that the caller flushes replies and calls again.
    /// </summary>
    private bool Process(ref ReadOnlySequence<byte> buffer)
    {
        while (!_close)
        {
            if (_stagingLength > 0)
            {
                if (!Stage(ref buffer))
                {
                    return true;
                }

                if (_stagingLength < _stagingNeeded)
                {
                    return true;
                }

                if (!ProcessStaging())
                {
                    return false;
                }

                continue;
            }

            if (buffer.IsEmpty)
            {
                return true;
            }

            var span = buffer.FirstSpan;
            var status = RespParser.TryParse(span, _request, _server.Limits, _session.Authenticated, out var consumed, out var needed, out var error);
            switch (status)
            {
                case ParseStatus.Complete:
                    if (_prefetched > 0)
                    {
                        _prefetched--;
                    }
                    else if (span.Length > consumed)
                    {
                        _prefetched = PrefetchKeys(span);
                    }

                    _session.Client.QueryBufferBytes = buffer.Length;
                    Execute(span);
                    buffer = buffer.Slice(consumed);
                    if (OutputFull() || _session.HasPending)
                    {
                        return false;
                    }

                    break;
                case ParseStatus.Empty:
                    buffer = buffer.Slice(consumed);
                    break;
                case ParseStatus.Incomplete:
                    if (buffer.Length == span.Length && buffer.Length <= StageAbove)
                    {
                        // One small, unfinished command: leave it in the pipe until more arrives.
                        return true;
                    }

                    _stagingNeeded = 0;
                    _prefetched = 0;
                    if (!Stage(ref buffer))
                    {
                        return true;
                    }

                    if (!ProcessStaging())
                    {
                        return false;
                    }

                    break;
                default:
                    ProtocolError(error!);
                    return true;
            }
        }

        return true;
    }

    /// <summary>Moves all of <paramref name="buffer"/> to the end of the staging buffer. False when the query buffer limit is reached (the connection is closing).</summary>
    private bool Stage(ref ReadOnlySequence<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return true;
        }

        var total = _stagingLength + buffer.Length;
        if (total > _server.Options.MaxQueryBuffer)
        {
            LogQueryBufferExceeded(_logger, _session.Client.Id, total);
            ProtocolError("ERR Protocol error: client query buffer limit exceeded");
            buffer = buffer.Slice(buffer.End);
            return false;
        }

        if (total > _staging.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(Math.Max(total, _staging.Length * 2L), Array.MaxLength));
            _staging.AsSpan(0, _stagingLength).CopyTo(bigger);
            ReleaseStaging();
            _staging = bigger;
        }

        buffer.CopyTo(_staging.AsSpan(_stagingLength));
        _stagingLength = (int)total;
        _session.Client.QueryBufferBytes = _stagingLength;
        _session.Client.QueryBufferFree = _staging.Length - _stagingLength;
        buffer = buffer.Slice(buffer.End);
        return true;
    }

    /// <summary>Executes the complete commands in the staging buffer and keeps the unfinished rest. False when it stopped early to flush.</summary>
    private bool ProcessStaging()
    {
        var offset = 0;
        var completed = true;
        while (offset < _stagingLength && !_close)
        {
            var span = _staging.AsSpan(offset, _stagingLength - offset);

            // A command left incomplete by the last pass starts at offset 0 now: go on from where it stopped.
            var status = RespParser.TryParse(span, _request, _server.Limits, _session.Authenticated, resume: offset == 0, out var consumed, out var needed, out var error);
            if (status == ParseStatus.Incomplete)
            {
                // Re-parse only once the bytes the parser asked for have arrived.
                _stagingNeeded = needed;
                break;
            }

            if (status == ParseStatus.Error)
            {
                ProtocolError(error!);
                return true;
            }

            if (status == ParseStatus.Complete)
            {
                Execute(span);
            }

            offset += consumed;
            if (OutputFull() || _session.HasPending)
            {
                completed = false;
                break;
            }
        }

        var rest = _stagingLength - offset;
        _staging.AsSpan(offset, rest).CopyTo(_staging);
        _stagingLength = rest;
        if (!completed)
        {
            _stagingNeeded = 0;
        }

        _session.Client.QueryBufferBytes = _stagingLength;
        if (_stagingLength == 0 && _staging.Length > 1024 * 1024)
        {
            ReleaseStaging();
        }

        return completed;
    }

    /// <summary>
    /// When the pipeline ahead opens with GETs or plain SETs, hints their keys to the store, so that the
    /// cache misses of their lookups overlap. On a store larger than the CPU caches a GET mostly waits for
    /// memory: measured on 100k keys of 1 KB, 540 ns per lookup and copy one after another, 340 ns in
    /// hinted batches of 16. Returns how many of the commands after the first were hinted.
    /// </summary>
    private int PrefetchKeys(ReadOnlySpan<byte> span)
    {
        Span<Range> keys = stackalloc Range[PrefetchWindow.Keys];
        var count = 0;
        var offset = 0;
        while (count < PrefetchWindow.Keys && RespParser.TryMatchGetOrSet(span[offset..], out var key, out var length))
        {
            keys[count++] = new Range(key.Start.Value + offset, key.End.Value + offset);
            offset += length;
        }

        PrefetchWindow.Hint(_server.Store, span, keys[..count]);
        return Math.Max(count - 1, 0);
    }

    private void Execute(ReadOnlySpan<byte> frame)
    {
        var source = _request.IsInline ? _request.InlineBytes : frame;
        _session.Execute(new CommandArgs(source, _request.Args));
        if (_session.OutputOverflowed)
        {
            LogOutputBufferExceeded(_logger, _session.Client.Id, _output.UnflushedBytes);
            Overflowed = true;
        }

        if (_session.CloseRequested)
        {
            _close = true;
        }
    }

    /// <summary>True when replies should be flushed before parsing more; closes the connection past the output limit.</summary>
    private bool OutputFull()
    {
        var pending = _output.UnflushedBytes;
        if (pending > _server.Options.MaxOutputBuffer)
        {
            LogOutputBufferExceeded(_logger, _session.Client.Id, pending);
            Overflowed = true;
            _close = true;
            return true;
        }

        return pending >= FlushThreshold;
    }

    private void ProtocolError(string error)
    {
        Interlocked.Increment(ref _server.ProtocolErrors);
        LogProtocolError(_logger, _session.Client.Id, error);
        _writer.Error(error);
        _close = true;
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Debug, Message = "Client {ClientId}: {Error}; closing the connection")]
    private static partial void LogProtocolError(ILogger logger, long clientId, string error);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Client {ClientId} reached the query buffer limit ({Bytes} bytes buffered); closing the connection")]
    private static partial void LogQueryBufferExceeded(ILogger logger, long clientId, long bytes);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "Client {ClientId} reached the output buffer limit ({Bytes} bytes of replies); closing the connection")]
    private static partial void LogOutputBufferExceeded(ILogger logger, long clientId, long bytes);
}
