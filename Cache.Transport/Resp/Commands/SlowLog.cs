using System.Text;

using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>
/// Redis's SLOWLOG: the most recent commands that ran longer than <see cref="ThresholdMicros"/>, newest first,
/// at most <see cref="MaxLength"/> of them, each with at most 32 arguments of at most 128 bytes (as Redis
/// trims them). Thread-safe.
/// </summary>
internal sealed class SlowLog
{
    private const int MaxArguments = 32;
    private const int MaxArgumentBytes = 128;

    private readonly Lock _gate = new();
    private readonly LinkedList<SlowLogEntry> _entries = new();
    private long _nextId;

    /// <summary><c>slowlog-log-slower-than</c>: microseconds; negative disables the log, 0 logs every command.</summary>
    public long ThresholdMicros { get; set; } = 10_000;

    /// <summary><c>slowlog-max-len</c>.</summary>
    public long MaxLength { get; set; } = 128;

    /// <summary>True when a command that took <paramref name="micros"/> belongs in the log.</summary>
    public bool IsSlow(long micros)
    {
        var threshold = ThresholdMicros;
        return threshold >= 0 && micros >= threshold;
    }

    /// <summary>Logs a command (its arguments are copied and trimmed now).</summary>
    public void Add(in CommandArgs a, long unixSeconds, long micros, string client, string name)
    {
        var shown = Math.Min(a.Count, MaxArguments);
        var args = new string[shown];
        for (var i = 0; i < shown; i++)
        {
            if (i == MaxArguments - 1 && a.Count > MaxArguments)
            {
                args[i] = $"... ({a.Count - MaxArguments + 1} more arguments)";
                break;
            }

            var arg = a[i];
            args[i] = arg.Length > MaxArgumentBytes
                ? Encoding.UTF8.GetString(arg[..MaxArgumentBytes]) + $"... ({arg.Length - MaxArgumentBytes} more bytes)"
                : Encoding.UTF8.GetString(arg);
        }

        lock (_gate)
        {
            _entries.AddFirst(new SlowLogEntry(_nextId++, unixSeconds, micros, args, client, name));
            while (_entries.Count > Math.Max(0, MaxLength))
            {
                _entries.RemoveLast();
            }
        }
    }

    /// <summary>The newest <paramref name="count"/> entries (all with a negative count).</summary>
    public List<SlowLogEntry> Get(long count)
    {
        lock (_gate)
        {
            return [.. count < 0 ? _entries : _entries.Take((int)Math.Min(count, int.MaxValue))];
        }
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _entries.Count;
            }
        }
    }

    public void Reset()
    {
        lock (_gate)
        {
            _entries.Clear();
        }
    }
}

/// <summary>One slow command.</summary>
internal sealed record SlowLogEntry(long Id, long UnixSeconds, long Micros, string[] Args, string Client, string Name);
