using System.Collections.Concurrent;
using System.Threading.Channels;
using Cache.Engine;
using Cache.Transport;
using Microsoft.Extensions.Logging;

namespace Cache.Dataset;

/// <summary>
/// The write-behind of one dataset: <see cref="Add"/> queues an encoded sample and returns (no I/O on the
/// caller's thread); one background flusher, asynchronous end to end, writes what is queued to the backend in
/// batches (<see cref="ICacheBackend.SetManyInlineAsync"/>, awaited: no thread waits for a reply, and the answers are
/// accounted for on the thread that received them; the next write leaves from the pool). A queued sample is
/// readable through <c>TryGet</c> until the backend has answered for it. At most <see cref="Capacity"/> samples
/// are queued; past that a sample is dropped and counted. Thread-safe.
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

    // Bounded by _queued rather than by the channel: a Flush barrier always finds room, a sample only within
    // the cap. Nobody awaits this channel: the flusher only drains it when woken through _wake, so a sample's
    // TryWrite is a lock and an enqueue, never a thread's wake-up.
    private readonly Channel<Item> _queue = Channel.CreateUnbounded<Item>(new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });

    // Wakes the flusher: once per WriterBufferSize samples and for every barrier, not once per sample. A wake-up per
    // sample cost a pool thread's wake (and, on a machine with more busy threads than cores, a producer preempted)
    // for every sample produced, to add it to a batch that then waited for more. No synchronous continuations: a
    // producer's signal never runs the flusher (and its I/O) itself.
    private readonly Channel<bool> _wake = Channel.CreateUnbounded<bool>(new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });

    private readonly ConcurrentDictionary<StoreKey, byte[]> _pending = new();
    private readonly Task _flusher;

    // Set when the flusher has written everything and ended: what the synchronous Dispose waits on (an event, not a task).
    private readonly ManualResetEventSlim _stopped = new();
    private int _queued;

    // Samples in the channel or in the flusher's unwritten batch: crossing the writer buffer size wakes the flusher.
    private int _unwritten;
    private long _wakeUps;

    // Of the flusher's unwritten batch, the samples counted in _unwritten (not held); the flusher's alone.
    private int _countedInBatch;
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

        // On the thread pool, so that the constructor never runs the loop. While training saturates the pool, the
        // loop waits for a thread like any other work; the queued samples stay readable meanwhile, and the bound
        // drops (and counts) what a slow flusher cannot keep.
        _flusher = Task.Run(RunAsync);
    }

    /// <summary>The most samples queued at once.</summary>
    public int Capacity { get; }

    /// <summary>Samples queued and not yet answered for by the backend.</summary>
    public int Queued => Volatile.Read(ref _queued);

    public long Written => Interlocked.Read(ref _written);

    /// <summary>Times the flusher was signalled (a full writer buffer or a flush); tests check it is not once per sample.</summary>
    internal long WakeUps => Interlocked.Read(ref _wakeUps);

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
    /// <param name="key">The sample's full key.</param>
    /// <param name="encoded">The encoded sample.</param>
    /// <param name="held">True: the sample does not count toward the writer buffer that wakes the flusher; it goes with
    /// the next write, or at the next <see cref="RequestFlush"/> (the loader's misses: written once per batch, one
    /// request per owner, instead of every writer buffer).</param>
    public void Add(StoreKey key, byte[] encoded, bool held = false)
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

        if (!TryEnqueue(new Item(key, encoded, null, held)))
        {
            // Completed (disposed): nothing will write it.
            Forget(key, encoded);
            Interlocked.Increment(ref _dropped);
            return;
        }

        // Exactly at the threshold: each climb to a full buffer wakes the flusher once; the flusher takes the count
        // down by what it writes, so the next full buffer wakes it again.
        if (!held && Interlocked.Increment(ref _unwritten) == _batchSize)
        {
            Wake();
        }
    }

    /// <summary>Waits until every sample queued before the call has been answered for by the backend. Blocks the caller; prefer <see cref="FlushAsync"/>.</summary>
    public void Flush()
    {
        if (Volatile.Read(ref _queued) == 0)
        {
            // Nothing queued that the backend has not answered for: no need to wake the flusher (a thread's wake-up,
            // milliseconds on a busy machine, at the end of every epoch served from the cache).
            return;
        }

        var barrier = new Barrier(synchronous: true);
        if (TryEnqueueBarrier(barrier))
        {
            // The flusher sets the event itself: no continuation has to be scheduled for this thread to wake.
            barrier.Event!.Wait();
        }
    }

    /// <summary>Has the flusher write what it holds now, even below the writer buffer size, without waiting for it.</summary>
    public void RequestFlush()
    {
        if (Volatile.Read(ref _queued) > 0)
        {
            TryEnqueueBarrier(new Barrier(synchronous: false));
        }
    }

    /// <summary>Completes when every sample queued before the call has been answered for by the backend.</summary>
    public Task FlushAsync(CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _queued) == 0)
        {
            return Task.CompletedTask;
        }

        var barrier = new Barrier(synchronous: false);
        return TryEnqueueBarrier(barrier)
            ? barrier.Completion!.Task.WaitAsync(cancellationToken)
            : Task.CompletedTask;
    }

    /// <summary>Writes what is queued and stops the flusher, waiting on an event until it has ended. Prefer <see cref="DisposeAsync"/>.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _completed, 1) == 0)
        {
            Complete();

            // An event set by the flusher as it ends, not a wait on its task: this thread is woken directly. The event
            // is not disposed: the flusher may still be inside Set, and without a wait handle it holds nothing to release.
            _stopped.Wait();
        }
    }

    /// <summary>Writes what is queued and stops the flusher.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _completed, 1) == 0)
        {
            Complete();
            await _flusher.ConfigureAwait(false);
        }
    }

    // False once completed (disposed): the final drain has written everything before it.
    private bool TryEnqueue(Item item) => _queue.Writer.TryWrite(item);

    private bool TryEnqueueBarrier(Barrier barrier)
    {
        if (!TryEnqueue(new Item(null, null, barrier, false)))
        {
            return false;
        }

        Wake();
        return true;
    }

    private void Wake()
    {
        Interlocked.Increment(ref _wakeUps);
        _wake.Writer.TryWrite(true);
    }

    // The items first: once the wake channel reports completion, every item that was accepted is in the channel.
    private void Complete()
    {
        _queue.Writer.TryComplete();
        _wake.Writer.TryComplete();
    }

    private async Task RunAsync()
    {
        try
        {
            var wake = _wake.Reader;
            var batch = new List<KeyValuePair<StoreKey, byte[]>>(_batchSize);
            while (await wake.WaitToReadAsync().ConfigureAwait(false))
            {
                while (wake.TryRead(out _))
                {
                }

                await DrainAsync(batch).ConfigureAwait(false);
            }

            // Completed: the wake channel completes after the items' channel, so everything accepted is there now.
            await DrainAsync(batch).ConfigureAwait(false);
            await WriteAsync(batch).ConfigureAwait(false);
        }
        finally
        {
            _stopped.Set();
        }
    }

    /// <summary>
    /// Takes everything queued into <paramref name="batch"/>, writing at each barrier and every <see cref="MaxBatch"/>
    /// samples, until the queue is empty with fewer than WriterBufferSize samples held: those wait for more (or for a
    /// flush), as Bagua's writer buffer.
    /// </summary>
    private async ValueTask DrainAsync(List<KeyValuePair<StoreKey, byte[]>> batch)
    {
        var reader = _queue.Reader;
        while (true)
        {
            while (reader.TryRead(out var item))
            {
                if (item.Barrier is { } barrier)
                {
                    // Everything queued before the barrier is in the batch.
                    await WriteAsync(batch).ConfigureAwait(false);
                    barrier.Release();
                    continue;
                }

                batch.Add(new(item.Key!, item.Value!));
                if (!item.Held)
                {
                    _countedInBatch++;
                }

                if (batch.Count >= MaxBatch)
                {
                    await WriteAsync(batch).ConfigureAwait(false);
                }
            }

            if (_countedInBatch < _batchSize)
            {
                // An Add after the last read brings the count to the threshold (counted with this batch) and wakes us.
                // Held samples wait for a barrier, or go with the next full buffer.
                return;
            }

            // While this writes, more may arrive without a wake-up (the count is past the threshold): read again.
            await WriteAsync(batch).ConfigureAwait(false);
        }
    }

    private async ValueTask WriteAsync(List<KeyValuePair<StoreKey, byte[]>> batch)
    {
        if (batch.Count == 0)
        {
            return;
        }

        if (!Thread.CurrentThread.IsThreadPoolThread)
        {
            // The last write completed on a peer connection's reader thread (below) and more is to be written: sending it
            // from there would hold that connection's replies back, so the flusher goes on from the pool (ForceYielding
            // with no captured context: the pool, whatever context or scheduler the thread has).
            await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        }

        var entries = batch.ToArray();
        batch.Clear();
        Interlocked.Add(ref _unwritten, -_countedInBatch);
        _countedInBatch = 0;
        var results = new SetResult[entries.Length];
        try
        {
            // Inline: what follows the answers (counting them, releasing the samples kept readable, a flush's barrier) is
            // short, so it runs on the thread that received the last answer rather than waking a pool thread per owner.
            await _backend.SetManyInlineAsync(entries, results).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The flusher must outlive any backend fault: such a write counts as failed.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogWriteFailed(_logger, ex, _datasetName);
            results.AsSpan().Fill(SetResult.Failed);
        }

        Account(entries, results);
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

    private readonly record struct Item(StoreKey? Key, byte[]? Value, Barrier? Barrier, bool Held);

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
