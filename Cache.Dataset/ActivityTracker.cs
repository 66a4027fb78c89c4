namespace Cache.Dataset;

/// <summary>
/// Counts background operations (reads in flight, worker threads) so that a stop can wait until none is
/// left, synchronously (an event set by the last one out, no task) or asynchronously. Thread-safe.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "The event's wait handle is never asked for, so it holds no kernel object to release.")]
internal sealed class ActivityTracker
{
    private readonly Lock _gate = new();
    private readonly ManualResetEventSlim _idle = new(initialState: true);
    private TaskCompletionSource? _idleAsync;
    private int _active;

    public int Active => Volatile.Read(ref _active);

    public void Enter()
    {
        lock (_gate)
        {
            if (_active++ == 0)
            {
                _idle.Reset();
            }
        }
    }

    public void Exit()
    {
        TaskCompletionSource? waiter = null;
        lock (_gate)
        {
            if (--_active == 0)
            {
                _idle.Set();
                waiter = _idleAsync;
                _idleAsync = null;
            }
        }

        waiter?.TrySetResult();
    }

    public void WaitIdle() => _idle.Wait();

    public Task WaitIdleAsync()
    {
        lock (_gate)
        {
            if (_active == 0)
            {
                return Task.CompletedTask;
            }

            _idleAsync ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _idleAsync.Task;
        }
    }
}
