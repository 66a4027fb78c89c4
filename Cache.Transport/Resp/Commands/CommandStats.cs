using System.Numerics;

using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>
/// Per-command counters for INFO commandstats and LATENCY HISTOGRAM: calls, time spent, rejected calls
/// (refused before running: arity, authentication, a queued transaction's errors) and failed calls (ran and
/// replied with an error), and a histogram of call durations in power-of-two microsecond buckets, as Redis
/// reports them. Thread-safe: every counter is updated with one atomic add.
/// </summary>
internal sealed class CommandStats
{
    /// <summary>Bucket i counts calls of less than 2^i microseconds (bucket 0: under 1 us).</summary>
    public const int Buckets = 40;

    private readonly Counters[] _counters;
    private readonly long _frequency;

    /// <summary>Counters whose durations are in ticks of <paramref name="frequency"/> per second (the node clock's <see cref="TimeProvider.TimestampFrequency"/>).</summary>
    public CommandStats(long frequency)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(frequency);
        _frequency = frequency;
        _counters = new Counters[Enum.GetValues<CommandId>().Length];
        for (var i = 0; i < _counters.Length; i++)
        {
            _counters[i] = new Counters();
        }
    }

    /// <summary>Counts one call that ran for <paramref name="ticks"/> (timestamp ticks of the node's clock).</summary>
    public void Record(CommandId id, long ticks, bool failed)
    {
        var c = _counters[(int)id];
        Interlocked.Increment(ref c.Calls);
        Interlocked.Add(ref c.Ticks, ticks);
        if (failed)
        {
            Interlocked.Increment(ref c.Failed);
        }

        var micros = (ulong)(ticks * 1_000_000 / _frequency);
        var bucket = micros == 0 ? 0 : Math.Min(Buckets - 1, BitOperations.Log2(micros) + 1);
        Interlocked.Increment(ref c.Histogram[bucket]);
    }

    /// <summary>Counts a call refused before it ran.</summary>
    public void Rejected(CommandId id) => Interlocked.Increment(ref _counters[(int)id].Rejected);

    /// <summary>A snapshot of one command's counters.</summary>
    public CommandCounts Read(CommandId id)
    {
        var c = _counters[(int)id];
        var histogram = new long[Buckets];
        for (var i = 0; i < Buckets; i++)
        {
            histogram[i] = Volatile.Read(ref c.Histogram[i]);
        }

        return new CommandCounts(Volatile.Read(ref c.Calls), Volatile.Read(ref c.Ticks) * 1_000_000 / _frequency, Volatile.Read(ref c.Rejected), Volatile.Read(ref c.Failed), histogram);
    }

    /// <summary>Zeroes every counter (CONFIG RESETSTAT).</summary>
    public void Reset()
    {
        foreach (var c in _counters)
        {
            Volatile.Write(ref c.Calls, 0);
            Volatile.Write(ref c.Ticks, 0);
            Volatile.Write(ref c.Rejected, 0);
            Volatile.Write(ref c.Failed, 0);
            for (var i = 0; i < Buckets; i++)
            {
                Volatile.Write(ref c.Histogram[i], 0);
            }
        }
    }

    private sealed class Counters
    {
        public long Calls;
        public long Ticks;
        public long Rejected;
        public long Failed;
        public readonly long[] Histogram = new long[Buckets];
    }
}

/// <summary>One command's counters at one moment.</summary>
/// <param name="Calls">Calls that ran.</param>
/// <param name="Micros">Microseconds they took in all.</param>
/// <param name="Rejected">Calls refused before running.</param>
/// <param name="Failed">Calls that ran and replied with an error.</param>
/// <param name="Histogram">Calls per duration bucket (see <see cref="CommandStats.Buckets"/>).</param>
internal sealed record CommandCounts(long Calls, long Micros, long Rejected, long Failed, long[] Histogram);
