using System.Collections.Concurrent;
using Cache.Engine;

namespace Cache.Dataset;

/// <summary>
/// One enumeration of a <see cref="CachedDataLoader{T}"/>: the read-ahead window, the worker threads that
/// produce misses, and the bookkeeping that lets a stop wait until nothing of it is left running.
/// Next/NextAsync are called by the one consumer; everything else runs in the background.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "Stop/StopAsync dispose the collection and the token source once nothing uses them.")]
internal sealed class LoaderRun<T>
{
    private readonly CachedDataLoader<T> _loader;
    private readonly CachedDataset<T> _dataset;
    private readonly IReadOnlyList<long> _order;
    private readonly long _batchCount;
    private readonly CancellationTokenSource _stop;
    private readonly Action _onStopped;
    private readonly Queue<PendingBatch<T>> _inFlight = new();

    // Misses for the workers, oldest batch first: its semaphore-based Take needs no thread pool.
    private readonly BlockingCollection<(PendingBatch<T> Batch, int Position)> _misses = new(new ConcurrentQueue<(PendingBatch<T>, int)>());
    private readonly ActivityTracker _activity = new();
    private readonly Lock _workersGate = new();
    private long _nextToLaunch;
    private long _nextToYield;
    private int _stopped;
    private bool _workersStarted;

    public LoaderRun(CachedDataLoader<T> loader, CachedDataset<T> dataset, IReadOnlyList<long> order, long firstBatch, long batchCount, Action onStopped, CancellationToken cancellationToken)
    {
        _loader = loader;
        _dataset = dataset;
        _order = order;
        _batchCount = batchCount;
        _nextToLaunch = _nextToYield = firstBatch;
        _onStopped = onStopped;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    }

    /// <summary>The next batch, waited for on an event; null at the end of the epoch.</summary>
    public T[]? Next()
    {
        if (!TryStartNext(out var head))
        {
            return null;
        }

        return Yield(head.Wait(_stop.Token));
    }

    /// <summary>The next batch; null at the end of the epoch.</summary>
    public async ValueTask<T[]?> NextAsync()
    {
        if (!TryStartNext(out var head))
        {
            return null;
        }

        return Yield(await head.WaitAsync(_stop.Token).ConfigureAwait(false));
    }

    /// <summary>Stops the reads and the workers and waits until none is running.</summary>
    public void Stop()
    {
        if (BeginStop())
        {
            _activity.WaitIdle();
            EndStop();
        }
    }

    public async ValueTask StopAsync()
    {
        if (BeginStop())
        {
            await _activity.WaitIdleAsync().ConfigureAwait(false);
            EndStop();
        }
    }

    private bool TryStartNext(out PendingBatch<T> head)
    {
        _stop.Token.ThrowIfCancellationRequested();
        if (_nextToYield >= _batchCount)
        {
            if (_nextToYield == _batchCount)
            {
                _nextToYield++;
                _loader.EpochCompleted();
            }

            head = null!;
            return false;
        }

        TopUp();
        head = _inFlight.Peek();
        return true;
    }

    private T[] Yield(T[] samples)
    {
        _inFlight.Dequeue();
        _loader.AddStaged(-samples.Length);
        _nextToYield++;
        _loader.Yielded(_nextToYield);

        // The window moves on while the consumer works on this batch.
        TopUp();
        return samples;
    }

    private void TopUp()
    {
        while (_nextToLaunch < _batchCount && _inFlight.Count < _loader.ReadAhead)
        {
            _inFlight.Enqueue(Launch(_nextToLaunch++));
        }
    }

    private PendingBatch<T> Launch(long batch)
    {
        var start = batch * _loader.BatchSize;
        var count = (int)Math.Min(_loader.BatchSize, _order.Count - start);
        var indices = new int[count];
        var keys = new StoreKey[count];
        for (var i = 0; i < count; i++)
        {
            indices[i] = checked((int)_order[(int)(start + i)]);
            keys[i] = _dataset.KeyOf(indices[i]);
        }

        var pending = new PendingBatch<T>(indices, keys);
        _loader.AddStaged(count);
        Enter();

        // Issued on the consumer's thread: the read is asynchronous, so this costs the requests' sends (no wait
        // for a reply), whereas a hop to the thread pool first costs a pool thread's wake-up, milliseconds on a
        // busy machine, before the request even leaves.
        _ = FetchAsync(pending);
        return pending;
    }

    private async Task FetchAsync(PendingBatch<T> batch)
    {
        try
        {
            List<int> missed;
            try
            {
                // Completed inline: what follows only files the batch and wakes the consumer or a worker, so it may run
                // on the peer connection's reader thread, which saves a pool thread's wake-up per batch.
                missed = await _dataset.Cache.GetManyAsync(batch.Keys, batch.Samples, new bool[batch.Keys.Length], SampleReads.CompleteInline, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                batch.Fail(new OperationCanceledException(_stop.Token));
                return;
            }
#pragma warning disable CA1031 // The cache is never the source of truth: a read that faults is a batch of misses.
            catch (Exception)
#pragma warning restore CA1031
            {
                missed = [.. Enumerable.Range(0, batch.Keys.Length)];
            }

            if (missed.Count == 0)
            {
                batch.Complete();
                return;
            }

            batch.ExpectMisses(missed.Count);
            foreach (var position in missed)
            {
                if (!TryQueueMiss(batch, position))
                {
                    batch.Fail(new OperationCanceledException(_stop.Token));
                    return;
                }
            }
        }
        finally
        {
            Exit();
        }
    }

    private bool TryQueueMiss(PendingBatch<T> batch, int position)
    {
        StartWorkers();
        try
        {
            return _misses.TryAdd((batch, position));
        }
        catch (InvalidOperationException)
        {
            // Stopping: the workers take no more.
            return false;
        }
    }

    private void Work()
    {
        try
        {
            foreach (var (batch, position) in _misses.GetConsumingEnumerable())
            {
                if (_stop.IsCancellationRequested)
                {
                    batch.Fail(new OperationCanceledException(_stop.Token));
                    continue;
                }

                try
                {
                    var sample = _dataset.Source[batch.Indices[position]];
                    batch.Samples[position] = sample;

                    // Held until the batch is complete, then written together: one request per owner per batch rather
                    // than per writer buffer (20 samples by default). Each request wakes a thread in the owner, which on
                    // a machine with more busy threads than cores takes the CPU from that owner's own producer.
                    _dataset.Cache.AddHeld(batch.Keys[position], sample);
                    if (batch.MissProduced())
                    {
                        _dataset.Cache.RequestFlush();
                    }
                }
#pragma warning disable CA1031 // The source's exception is the consumer's: it is rethrown where the batch is awaited.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    batch.Fail(ex);
                }
            }
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>
    /// Starts the worker threads with the first miss: an epoch served wholly from the cache starts no thread
    /// (and its stop waits for none), which on a busy machine saves a thread's start and end per epoch.
    /// </summary>
    private void StartWorkers()
    {
        lock (_workersGate)
        {
            if (_workersStarted || Volatile.Read(ref _stopped) != 0)
            {
                return;
            }

            _workersStarted = true;
            for (var w = 0; w < _loader.Workers; w++)
            {
                Enter();
                new Thread(Work) { IsBackground = true, Name = $"cache-loader worker {w}" }.Start();
            }
        }
    }

    private bool BeginStop()
    {
        lock (_workersGate)
        {
            // Under the gate: no worker starts once the stop has begun, so the wait below sees every one.
            if (Interlocked.Exchange(ref _stopped, 1) != 0)
            {
                return false;
            }
        }

        _stop.Cancel();
        _misses.CompleteAdding();
        return true;
    }

    private void EndStop()
    {
        while (_inFlight.TryDequeue(out var unread))
        {
            _loader.AddStaged(-unread.Samples.Length);
        }

        _misses.Dispose();
        _stop.Dispose();
        _onStopped();
    }

    private void Enter()
    {
        _activity.Enter();
        _loader.OperationStarted();
    }

    private void Exit()
    {
        _loader.OperationEnded();
        _activity.Exit();
    }
}
