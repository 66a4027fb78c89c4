using System.Collections.Concurrent;
using Cache.Engine;
using Cache.Transport;
using Microsoft.Extensions.Logging;

namespace Cache.Dataset;

/// <summary>
/// The write-behind of one dataset: <see cref="Add"/> queues an encoded sample and returns (no I/O on the
/// caller's thread); one background flusher writes what is queued to the backend in batches. A queued
/// sample is readable through <c>TryGet</c> until the backend has answered for it. At most
/// <see cref="Capacity"/> samples are queued; past that a sample is dropped and counted. Thread-safe.
/// </summary>
internal sealed partial class WriteBehind : IDisposable, IAsyncDisposable
{
    // Samples written in one call at most: large enough to amortise a round trip per owner, small enough
    // that the flusher does not hold a huge batch while the backend is slow.
    private const int MaxBatch = 1024;

    private readonly ICacheBackend _backend;
    private readonly string _datasetName;
    private readonly ILogger _logger;
    private readonly int _batchSize;

    // Bounded by _queued rather than by the collection: a Flush barrier always finds room, a sample only
    // within the cap. Its blocking Take waits on a semaphore, not on a task, so the flusher's thread wakes
    // without the thread pool (training threads may keep every pool thread busy).
    private readonly BlockingCollection<Item> _queue = new(new ConcurrentQueue<Item>());

    private readonly ConcurrentDictionary<StoreKey, byte[]> _pending = new();
    private readonly Thread _flusher;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _queued;
    private long _written;
    private long _rejected;
    private long _failed;
    private long _dropped;
    private int _completed;

    public WriteBehind(ICacheBackend backend, string datasetName, int batchSize, int capacity, ILogger logger)
    {
        _backend = backend;
        _datasetName = datasetName;
        _batchSize = Math.Min(batchSize, MaxBatch);
        Capacity = capacity;
        _logger = logger;
        // A thread of its own: a flusher on the thread pool starves when training saturates the pool,
        // and the buffered samples then never reach the other ranks.
        _flusher = new Thread(Run) { IsBackground = true, Name = "cache-flush " + datasetName };
        _flusher.Start();
    }

    /// <summary>The most samples queued at once.</summary>
    public int Capacity { get; }

    /// <summary>Samples queued and not yet answered for by the backend.</summary>
    public int Queued => Volatile.Read(ref _queued);

    public long Written => Interlocked.Read(ref _written);

    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Failed writes plus samples dropped at the cap or after completion.</summary>
    public long Dropped => Interlocked.Read(ref _failed) + Interlocked.Read(ref _dropped);

    /// <summary>A queued sample under <paramref name="key"/>, if any.</summary>
    public bool TryGet(ReadOnlySpan<byte> key, out byte[] encoded) => TryGet(StoreKey.ForLookup(key), out encoded);

    /// <summary>A queued sample under <paramref name="key"/>, if any.</summary>
    public bool TryGet(StoreKey key, out byte[] encoded)
    {
        if (Volatile.Read(ref _queued) > 0 && _pending.TryGetValue(key, out var found))
        {
            encoded = found;
            return true;
        }

        encoded = null!;
        return false;
    }

    /// <summary>Queues <paramref name="encoded"/> under <paramref name="key"/> (both owned from now on). Never blocks, never does I/O.</summary>
    public void Add(StoreKey key, byte[] encoded)
    {
        if (Interlocked.Increment(ref _queued) > Capacity)
        {
            // The backend is slower than the producers: drop rather than grow without bound.
            Interlocked.Decrement(ref _queued);
            Interlocked.Increment(ref _dropped);
            return;
        }

        if (!_pending.TryAdd(key, encoded))
        {
            // Already queued: the value is the same sample, produced twice by racing readers.
            Interlocked.Decrement(ref _queued);
            return;
        }

        if (!TryEnqueue(new Item(key, encoded, null)))
        {
            // Completed (disposed): nothing will write it.
            Forget(key, encoded);
            Interlocked.Increment(ref _dropped);
        }
    }

    /// <summary>Waits until every sample queued before the call has been answered for by the backend. Blocks the caller; prefer <see cref="FlushAsync"/>.</summary>
    public void Flush()
    {
        var barrier = new Barrier(synchronous: true);
        if (TryEnqueue(new Item(null, null, barrier)))
        {
            // The flusher sets the event itself: no continuation has to be scheduled for this thread to wake.
            barrier.Event!.Wait();
        }
    }

    /// <summary>Has the flusher write what it holds now, even below the writer buffer size, without waiting for it.</summary>
    public void RequestFlush() => TryEnqueue(new Item(null, null, new Barrier(synchronous: false)));

    /// <summary>Completes when every sample queued before the call has been answered for by the backend.</summary>
    public Task FlushAsync(CancellationToken cancellationToken = default)
    {
        var barrier = new Barrier(synchronous: false);
        return TryEnqueue(new Item(null, null, barrier))
            ? barrier.Completion!.Task.WaitAsync(cancellationToken)
            : Task.CompletedTask;
    }

    /// <summary>Writes what is queued and stops the flusher (waiting for its thread to end).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _completed, 1) == 0)
        {
            _queue.CompleteAdding();
            _flusher.Join();
            _queue.Dispose();
        }
    }

    /// <summary>Writes what is queued and stops the flusher.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _completed, 1) == 0)
        {
            _queue.CompleteAdding();
            await _stopped.Task.ConfigureAwait(false);
            _queue.Dispose();
        }
    }

    private bool TryEnqueue(Item item)
    {
        try
        {
            return _queue.TryAdd(item);
        }
        catch (InvalidOperationException)
        {
            // Completed or disposed (ObjectDisposedException is one): the final drain has written everything.
            return false;
        }
    }

    private void Run()
    {
        try
        {
            Drain();
        }
        finally
        {
            _stopped.TrySetResult();
        }
    }

    private void Drain()
    {
        var batch = new List<KeyValuePair<StoreKey, byte[]>>(_batchSize);
        while (!_queue.IsCompleted)
        {
            if (!_queue.TryTake(out var first, Timeout.Infinite))
            {
                break;
            }

            var item = first;
            do
            {
                if (item.Barrier is { } barrier)
                {
                    // Everything queued before the barrier is in the batch.
                    Write(batch);
                    barrier.Release();
                    continue;
                }

                batch.Add(new(item.Key!, item.Value!));
                if (batch.Count >= MaxBatch)
                {
                    Write(batch);
                }
            }
            while (_queue.TryTake(out item));

            // Fewer than WriterBufferSize samples wait for more (or for a flush), as Bagua's writer buffer.
            if (batch.Count >= _batchSize)
            {
                Write(batch);
            }
        }

        Write(batch);
    }

    private void Write(List<KeyValuePair<StoreKey, byte[]>> batch)
    {
        if (batch.Count == 0)
        {
            return;
        }

        var entries = batch.ToArray();
        var results = new SetResult[entries.Length];
        try
        {
            _backend.SetMany(entries, results);
        }
#pragma warning disable CA1031 // The flusher must outlive any backend fault: such a write counts as failed.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogWriteFailed(_logger, ex, _datasetName);
            results.AsSpan().Fill(SetResult.Failed);
        }

        Account(entries, results);
        batch.Clear();
    }

    private void Account(KeyValuePair<StoreKey, byte[]>[] entries, SetResult[] results)
    {
        long written = 0;
        long rejected = 0;
        long failed = 0;
        for (var i = 0; i < entries.Length; i++)
        {
            if (results[i].IsStored())
            {
                written++;
            }
            else if (results[i] == SetResult.Failed)
            {
                failed++;
            }
            else
            {
                rejected++;
            }

            // Only now does the sample stop being readable from the queue: the backend has answered.
            Forget(entries[i].Key, entries[i].Value);
        }

        Interlocked.Add(ref _written, written);
        Interlocked.Add(ref _failed, failed);
        if (rejected > 0 && Interlocked.Add(ref _rejected, rejected) == rejected)
        {
            LogFirstRejection(_logger, _datasetName, _backend.Description);
        }
    }

    private void Forget(StoreKey key, byte[] value)
    {
        if (_pending.TryRemove(new KeyValuePair<StoreKey, byte[]>(key, value)))
        {
            Interlocked.Decrement(ref _queued);
        }
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Dataset {DatasetName}: the cache ({Backend}) is full and refuses new samples; they will be recomputed each epoch. Rejections are counted in the statistics")]
    private static partial void LogFirstRejection(ILogger logger, string datasetName, string backend);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "Dataset {DatasetName}: a write to the cache failed; its samples are counted as dropped")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, string datasetName);

    private readonly record struct Item(StoreKey? Key, byte[]? Value, Barrier? Barrier);

    /// <summary>A flush request in the queue, released by the flusher once everything before it is written.</summary>
    private sealed class Barrier(bool synchronous)
    {
        public ManualResetEventSlim? Event { get; } = synchronous ? new ManualResetEventSlim() : null;

        public TaskCompletionSource? Completion { get; } = synchronous ? null : new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release()
        {
            Event?.Set();
            Completion?.TrySetResult();
        }
    }
}
