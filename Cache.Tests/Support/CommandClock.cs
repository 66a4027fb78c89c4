namespace Cache.Tests.Support;

/// <summary>
/// A clock that moves only when it is read for a timestamp (GetTimestamp; GetUtcNow does not move it): each <see cref="GetTimestamp"/> moves it on by
/// <see cref="Step"/>, so that whatever a server times between two timestamps (a command) takes exactly that long,
/// and <see cref="GetUtcNow"/> reads the same clock. Its timers never fire. Thread-safe.
/// </summary>
internal sealed class CommandClock(DateTimeOffset start) : TimeProvider
{
    private long _ticks = start.UtcTicks;
    private long _step;

    /// <summary>How far each timestamp read moves the clock.</summary>
    public TimeSpan Step
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _step));
        set => Interlocked.Exchange(ref _step, value.Ticks);
    }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Add(ref _ticks, Interlocked.Read(ref _step));

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    /// <summary>Moves the clock on without a timestamp read (to the next second, say).</summary>
    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) => new NeverTimer();

    private sealed class NeverTimer : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period) => true;

        public void Dispose()
        {
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
