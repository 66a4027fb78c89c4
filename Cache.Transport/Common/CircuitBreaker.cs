namespace Cache.Transport.Common;

/// <summary>
/// Skips a failing peer or server for a back-off window. After <c>threshold</c> consecutive failures the
/// breaker opens: <see cref="AllowRequest"/> says no, so callers treat the peer's keys as misses at
/// once, until the window has passed; then one probe request goes through, and its outcome closes the
/// breaker or opens it again for a doubled window (up to a maximum). Thread-safe and lock-free.
/// </summary>
internal sealed class CircuitBreaker
{
    private readonly int _threshold;
    private readonly long _baseWindowMs;
    private readonly long _maxWindowMs;
    private readonly TimeProvider _time;
    private int _failures;
    private long _openUntilMs;
    private long _windowMs;
    private int _probing;

    /// <summary>Creates a breaker that opens after <paramref name="threshold"/> consecutive failures for <paramref name="window"/>, doubling up to <paramref name="maxWindow"/>.</summary>
    public CircuitBreaker(int threshold, TimeSpan window, TimeSpan maxWindow, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threshold, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        _threshold = threshold;
        _baseWindowMs = (long)window.TotalMilliseconds;
        _maxWindowMs = Math.Max(_baseWindowMs, (long)maxWindow.TotalMilliseconds);
        _windowMs = _baseWindowMs;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>True while the breaker is open (requests are skipped).</summary>
    public bool IsOpen => Volatile.Read(ref _openUntilMs) != 0;

    /// <summary>Whether a request may go out now. While open, returns true once per window, for a probe.</summary>
    public bool AllowRequest()
    {
        var openUntil = Volatile.Read(ref _openUntilMs);
        if (openUntil == 0)
        {
            return true;
        }

        return _time.GetUtcNow().ToUnixTimeMilliseconds() >= openUntil && Interlocked.CompareExchange(ref _probing, 1, 0) == 0;
    }

    /// <summary>Records a success: the breaker closes.</summary>
    public void RecordSuccess()
    {
        Volatile.Write(ref _failures, 0);
        Volatile.Write(ref _windowMs, _baseWindowMs);
        Volatile.Write(ref _openUntilMs, 0);
        Volatile.Write(ref _probing, 0);
    }

    /// <summary>Records a failure: the breaker opens once failures reach the threshold (at once after a failed probe).</summary>
    public void RecordFailure()
    {
        var failures = Interlocked.Increment(ref _failures);
        var wasProbing = Interlocked.Exchange(ref _probing, 0) == 1;
        if (failures < _threshold && !wasProbing)
        {
            return;
        }

        var window = Volatile.Read(ref _windowMs);
        if (wasProbing)
        {
            window = Math.Min(window * 2, _maxWindowMs);
            Volatile.Write(ref _windowMs, window);
        }

        Volatile.Write(ref _openUntilMs, _time.GetUtcNow().ToUnixTimeMilliseconds() + window);
    }
}
