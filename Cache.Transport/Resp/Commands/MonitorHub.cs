using System.Buffers;
using System.Globalization;
using System.Text;

using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>
/// The clients that sent MONITOR: every command the node runs is formatted once, in Redis's line format
/// (<c>+1339518083.107412 [0 127.0.0.1:60866] "set" "k" "v"</c>), and queued to each of them. Thread-safe; costs
/// one volatile read per command while nobody monitors.
/// </summary>
internal sealed class MonitorHub
{
    private readonly Lock _gate = new();
    private MonitorSink[] _sinks = [];

    /// <summary>True while at least one client monitors.</summary>
    public bool Active => Volatile.Read(ref _sinks).Length > 0;

    public void Add(MonitorSink sink)
    {
        lock (_gate)
        {
            _sinks = [.. _sinks, sink];
        }
    }

    public void Remove(MonitorSink sink)
    {
        lock (_gate)
        {
            _sinks = [.. _sinks.Where(s => s != sink)];
        }
    }

    /// <summary>Sends one executed command to every monitor. <paramref name="redactFrom"/>: arguments from there on are shown as "(redacted)" (passwords).</summary>
    public void Feed(in CommandArgs a, long unixMicros, string client, int redactFrom = int.MaxValue, int redactCount = int.MaxValue)
    {
        var sinks = Volatile.Read(ref _sinks);
        if (sinks.Length == 0)
        {
            return;
        }

        var line = Format(a, unixMicros, client, redactFrom, redactCount);
        foreach (var sink in sinks)
        {
            sink.Post(line);
        }
    }

    /// <summary>The monitor line of a command, with Redis's quoting of each argument.</summary>
    internal static byte[] Format(in CommandArgs a, long unixMicros, string client, int redactFrom = int.MaxValue, int redactCount = int.MaxValue)
    {
        var text = new StringBuilder(64);
        text.Append('+').Append((unixMicros / 1_000_000).ToString(CultureInfo.InvariantCulture)).Append('.')
            .Append((unixMicros % 1_000_000).ToString("D6", CultureInfo.InvariantCulture))
            .Append(" [0 ").Append(client).Append(']');
        for (var i = 0; i < a.Count; i++)
        {
            text.Append(' ');
            if (i >= redactFrom && i - redactFrom < redactCount)
            {
                text.Append("\"(redacted)\"");
                continue;
            }

            AppendQuoted(text, a[i]);
        }

        text.Append("\r\n");
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>An argument in double quotes, escaped as Redis's sdscatrepr does.</summary>
    internal static void AppendQuoted(StringBuilder text, ReadOnlySpan<byte> arg)
    {
        text.Append('"');
        foreach (var b in arg)
        {
            switch (b)
            {
                case (byte)'\\': text.Append("\\\\"); break;
                case (byte)'"': text.Append("\\\""); break;
                case (byte)'\n': text.Append("\\n"); break;
                case (byte)'\r': text.Append("\\r"); break;
                case (byte)'\t': text.Append("\\t"); break;
                case 7: text.Append("\\a"); break;
                case 8: text.Append("\\b"); break;
                default:
                    if (b is >= 32 and < 127)
                    {
                        text.Append((char)b);
                    }
                    else
                    {
                        text.Append("\\x").Append(b.ToString("x2", CultureInfo.InvariantCulture));
                    }

                    break;
            }
        }

        text.Append('"');
    }
}

/// <summary>
/// The lines waiting for one monitoring client. Other connections post; the client's own connection drains
/// them into its output when woken. Past <see cref="Limit"/> queued bytes the sink overflows: the client is
/// disconnected, as Redis disconnects a monitor past its output buffer limit, and memory never grows with a
/// slow reader. Thread-safe.
/// </summary>
internal sealed class MonitorSink(long limit, Action wake)
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<byte[]> _lines = new();
    private long _queuedBytes;
    private int _signaled;
    private volatile bool _overflowed;

    public long Limit { get; } = limit;

    /// <summary>True once a post found the queue past the limit: the connection must close.</summary>
    public bool Overflowed => _overflowed;

    /// <summary>Bytes posted and not yet drained.</summary>
    public long QueuedBytes => Volatile.Read(ref _queuedBytes);

    public void Post(byte[] line)
    {
        if (_overflowed)
        {
            return;
        }

        if (Interlocked.Add(ref _queuedBytes, line.Length) > Limit)
        {
            _overflowed = true;
            wake();
            return;
        }

        _lines.Enqueue(line);
        if (Interlocked.Exchange(ref _signaled, 1) == 0)
        {
            wake();
        }
    }

    /// <summary>Writes every queued line to <paramref name="output"/>. Called by the monitoring connection only.</summary>
    public void Drain(System.Buffers.IBufferWriter<byte> output)
    {
        Volatile.Write(ref _signaled, 0);
        while (_lines.TryDequeue(out var line))
        {
            output.Write(line);
            Interlocked.Add(ref _queuedBytes, -line.Length);
        }
    }
}
