namespace Cache.Tests.Support;

/// <summary>A clock that moves only when the test says so. Its timers fire, on the thread that calls <see cref="Advance"/>, when the clock passes their due time.</summary>
/// <param name="start">The clock's first reading.</param>
/// <param name="manualTimestamps">Whether <see cref="GetTimestamp"/> moves with the clock too (code that measures
/// elapsed time, such as a peer's silence deadline, then sees the test's time) or stays the system's.</param>
internal sealed class ManualTimeProvider(DateTimeOffset start, bool manualTimestamps = true) : TimeProvider
{
    private readonly List<ManualTimer> _timers = [];
    private long _ticks = start.UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    /// <summary>Timestamps move with the clock too (code that measures elapsed time with them sees the test's time).</summary>
    public override long GetTimestamp() => manualTimestamps ? Interlocked.Read(ref _ticks) : base.GetTimestamp();

    public override long TimestampFrequency => manualTimestamps ? TimeSpan.TicksPerSecond : base.TimestampFrequency;

    /// <summary>Timers armed now (a test waits for code to reach its next timed wait before it moves the clock).</summary>
    public int ArmedTimers
    {
        get
        {
            lock (_timers)
            {
                return _timers.Count;
            }
        }
    }

    public void Advance(TimeSpan by)
    {
        var now = Interlocked.Add(ref _ticks, by.Ticks);
        List<ManualTimer> due;
        lock (_timers)
        {
            due = _timers.Where(t => t.DueTicks <= now).ToList();
        }

        foreach (var timer in due)
        {
            timer.Fire(now);
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    private sealed class ManualTimer(ManualTimeProvider clock, TimerCallback callback, object? state) : ITimer
    {
        private long _periodTicks;

        public long DueTicks { get; private set; } = long.MaxValue;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (clock._timers)
            {
                clock._timers.Remove(this);
                _periodTicks = period == Timeout.InfiniteTimeSpan ? 0 : period.Ticks;
                if (dueTime != Timeout.InfiniteTimeSpan)
                {
                    DueTicks = clock.GetUtcNow().UtcTicks + dueTime.Ticks;
                    clock._timers.Add(this);
                }
            }

            return true;
        }

        public void Fire(long now)
        {
            lock (clock._timers)
            {
                clock._timers.Remove(this);
                if (_periodTicks > 0)
                {
                    // Once per Advance, however far the clock jumped (as a late system timer fires once).
                    DueTicks = now + _periodTicks;
                    clock._timers.Add(this);
                }
            }

            callback(state);
        }

        public void Dispose()
        {
            lock (clock._timers)
            {
                clock._timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>A clock that moves forward by a fixed step every time it is read (to land a deadline between two reads).</summary>
internal sealed class SteppingTimeProvider(DateTimeOffset start, TimeSpan step) : TimeProvider
{
    private long _ticks = start.UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Add(ref _ticks, step.Ticks), TimeSpan.Zero);
}
