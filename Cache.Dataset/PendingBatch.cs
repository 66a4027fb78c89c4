using System.Runtime.ExceptionServices;
using Cache.Engine;

namespace Cache.Dataset;

/// <summary>
/// One batch of a <see cref="CachedDataLoader{T}"/> on its way: its keys, the samples as they arrive, and
/// the misses still being produced. Completed once, by whoever fills the last slot (or by a failure); the
/// consumer waits on an event (synchronous loops) or a task (asynchronous ones). Thread-safe.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "The event's wait handle is never asked for, so it holds no kernel object to release.")]
internal sealed class PendingBatch<T>
{
    private readonly ManualResetEventSlim _done = new();
    private readonly TaskCompletionSource _doneAsync = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _remaining;
    private int _completed;
    private ExceptionDispatchInfo? _error;

    public PendingBatch(int[] indices, StoreKey[] keys)
    {
        Indices = indices;
        Keys = keys;
        Samples = new T[indices.Length];
    }

    public int[] Indices { get; }

    public StoreKey[] Keys { get; }

    /// <summary>The batch's samples; handed to the consumer, who owns the array from then on.</summary>
    public T[] Samples { get; }

    /// <summary>Misses the workers must still produce.</summary>
    public void ExpectMisses(int count) => Volatile.Write(ref _remaining, count);

    /// <summary>Counts a produced miss; true for the one that completed the batch.</summary>
    public bool MissProduced()
    {
        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            Complete();
            return true;
        }

        return false;
    }

    public void Complete()
    {
        if (Interlocked.Exchange(ref _completed, 1) == 0)
        {
            _done.Set();
            _doneAsync.TrySetResult();
        }
    }

    public void Fail(Exception error)
    {
        Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(error), null);
        Complete();
    }

    /// <summary>Blocks until complete (no task involved), then throws the batch's failure if any.</summary>
    public T[] Wait(CancellationToken cancellationToken)
    {
        _done.Wait(cancellationToken);
        Volatile.Read(ref _error)?.Throw();
        return Samples;
    }

    public async ValueTask<T[]> WaitAsync(CancellationToken cancellationToken)
    {
        await _doneAsync.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        Volatile.Read(ref _error)?.Throw();
        return Samples;
    }
}
