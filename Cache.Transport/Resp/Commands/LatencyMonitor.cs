using System.Globalization;
using System.Text;

namespace Cache.Transport.Resp.Commands;

/// <summary>
/// Redis's latency monitor: with <c>latency-monitor-threshold</c> above 0, every event (a command, <c>command</c>, or
/// a command flagged fast, <c>fast-command</c>) that took at least the threshold is kept as a sample of its event's
/// series: one sample per second (the worst of that second), the last 160 seconds that had one, and the worst of all
/// time. Thread-safe.
/// </summary>
internal sealed class LatencyMonitor(TimeProvider time)
{
    /// <summary>Samples kept per event, as Redis's LATENCY_TS_LEN.</summary>
    public const int SeriesLength = 160;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Series> _events = new(StringComparer.Ordinal);

    /// <summary><c>latency-monitor-threshold</c>, in milliseconds; 0 (the default) records nothing.</summary>
    public long ThresholdMs { get; set; }

    /// <summary>Records <paramref name="milliseconds"/> for <paramref name="name"/> when it reaches the threshold.</summary>
    public void AddIfNeeded(string name, long milliseconds)
    {
        var threshold = ThresholdMs;
        if (threshold > 0 && milliseconds >= threshold)
        {
            Add(name, milliseconds);
        }
    }

    /// <summary>Records a sample, whatever the threshold.</summary>
    public void Add(string name, long milliseconds)
    {
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        lock (_gate)
        {
            if (!_events.TryGetValue(name, out var series))
            {
                _events[name] = series = new Series();
            }

            series.Add(now, milliseconds);
        }
    }

    /// <summary>LATENCY LATEST: per event, its name, the time and latency of its newest sample, and its worst ever.</summary>
    public List<(string Name, long Time, long Latency, long Max)> Latest()
    {
        lock (_gate)
        {
            return [.. _events.Select(e => (e.Key, e.Value.Newest.Time, e.Value.Newest.Latency, e.Value.Max))];
        }
    }

    /// <summary>LATENCY HISTORY: the samples of one event, oldest first (empty for an unknown event).</summary>
    public List<(long Time, long Latency)> History(string name)
    {
        lock (_gate)
        {
            return _events.TryGetValue(name, out var series) ? series.Samples() : [];
        }
    }

    /// <summary>LATENCY RESET: forgets the named events (every event with none). Returns how many were forgotten.</summary>
    public int Reset(IReadOnlyCollection<string>? names)
    {
        lock (_gate)
        {
            if (names is null)
            {
                var count = _events.Count;
                _events.Clear();
                return count;
            }

            return names.Count(_events.Remove);
        }
    }

    /// <summary>LATENCY DOCTOR: Redis's report, for the events this node records.</summary>
    public string Doctor(long slowlogThresholdMicros)
    {
        var c = CultureInfo.InvariantCulture;
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        lock (_gate)
        {
            if (_events.Count == 0)
            {
                return ThresholdMs == 0
                    ? "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n"
                    : "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep better.\n";
            }

            var report = new StringBuilder("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
            var number = 0;
            var commands = false;
            var fast = false;
            foreach (var (name, series) in _events)
            {
                var samples = series.Samples();
                var average = samples.Sum(s => s.Latency) / samples.Count;
                var deviation = samples.Sum(s => Math.Abs(s.Latency - average)) / samples.Count;
                var period = (double)Math.Max(0, now - samples.Min(s => s.Time)) / samples.Count;
                report.Append(c, $"{++number}. {name}: {samples.Count} latency spikes (average {average}ms, mean deviation {deviation}ms, period {period:F2} sec). Worst all time event {series.Max}ms.\n");
                commands |= name == "command";
                fast |= name == "fast-command";
            }

            report.Append("\nI have a few advices for you:\n\n");
            if (commands)
            {
                if (slowlogThresholdMicros < 0)
                {
                    report.Append(c, $"- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log with 'CONFIG SET slowlog-log-slower-than {ThresholdMs * 1000}': while it is off, no slow command is logged.\n");
                }
                else if (slowlogThresholdMicros / 1000 > ThresholdMs)
                {
                    report.Append(c, $"- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {ThresholdMs * 1000}'.\n");
                }

                report.Append("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
                report.Append("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
            }

            if (fast)
            {
                report.Append("- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n");
            }

            return report.ToString();
        }
    }

    /// <summary>One event's ring of per-second samples.</summary>
    private sealed class Series
    {
        private readonly (long Time, long Latency)[] _samples = new (long, long)[SeriesLength];
        private int _next;

        public long Max { get; private set; }

        public (long Time, long Latency) Newest => _samples[(_next + SeriesLength - 1) % SeriesLength];

        public void Add(long unixSeconds, long latency)
        {
            Max = Math.Max(Max, latency);
            var previous = (_next + SeriesLength - 1) % SeriesLength;
            if (_samples[previous].Time == unixSeconds)
            {
                // One sample per second: the worst of it.
                _samples[previous].Latency = Math.Max(_samples[previous].Latency, latency);
                return;
            }

            _samples[_next] = (unixSeconds, latency);
            _next = (_next + 1) % SeriesLength;
        }

        public List<(long Time, long Latency)> Samples()
        {
            var list = new List<(long, long)>(SeriesLength);
            for (var i = 0; i < SeriesLength; i++)
            {
                var sample = _samples[(_next + i) % SeriesLength];
                if (sample.Time != 0)
                {
                    list.Add(sample);
                }
            }

            return list;
        }
    }
}
