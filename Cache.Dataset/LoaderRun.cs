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
    private long _nextToLaunch;
    private long _nextToYield;
    private int _stopped;

    public LoaderRun(CachedDataLoader<T> loader, CachedDataset<T> dataset, IReadOnlyList<long> order, long firstBatch, long batchCount, Action onStopped, CancellationToken cancellationToken)
    {
        _loader = loader;
        _dataset = dataset;
        _order = order;
        _batchCount = batchCount;
        _nextToLaunch = _nextToYield = firstBatch;
        _onStopped = onStopped;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        for (var w = 0; w < loader.Workers; w++)
        {
            Enter();
            new Thread(Work) { IsBackground = true, Name = $"cache-loader worker {w}" }.Start();
        }
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

        // Off the consumer's thread, so that a read never delays the batch the consumer is working on.
        _ = Task.Run(() => FetchAsync(pending));
        return pending;
    }

    private async Task FetchAsync(PendingBatch<T> batch)
    {
        try
        {
            List<int> missed;
            try
            {
                missed = await _dataset.Cache.GetManyAsync(batch.Keys, batch.Samples, new bool[batch.Keys.Length], _stop.Token).ConfigureAwait(false);
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
                    _dataset.Cache.Add(batch.Keys[position], sample);
                    batch.MissProduced();
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

    private bool BeginStop()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return false;
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
