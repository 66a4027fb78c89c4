namespace Cache.Tests.Support;

/// <summary>A clock that moves only when the test says so.</summary>
internal sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private long _ticks = start.UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}

/// <summary>A clock that moves forward by a fixed step every time it is read (to land a deadline between two reads).</summary>
internal sealed class SteppingTimeProvider(DateTimeOffset start, TimeSpan step) : TimeProvider
{
    private long _ticks = start.UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Add(ref _ticks, step.Ticks), TimeSpan.Zero);
}
