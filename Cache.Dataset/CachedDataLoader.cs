using System.Collections;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace Cache.Dataset;

/// <summary>
/// Batches of a <see cref="CachedDataset{T}"/> in a <see cref="DistributedSampler"/>'s order, read ahead: for each
/// of the next <see cref="ReadAhead"/> batches it issues one batched read of the cache (the mesh sends one
/// request per owner, all owners in flight together), the misses are produced by the source on
/// <see cref="Workers"/> threads and written through the dataset's background write-behind, and batches come
/// out in order. Enumerate it with <c>await foreach</c> or <c>foreach</c>; one enumeration is one epoch.
/// </summary>
/// <typeparam name="T">The sample type.</typeparam>
/// <remarks>
/// <para>Epochs: an enumeration reads the sampler's current <see cref="DistributedSampler.Epoch"/> from the position
/// the loader stands at; when it completes the epoch, the loader moves the sampler to the next epoch (so a loop
/// that calls <see cref="DistributedSampler.SetEpoch"/> itself, as with PyTorch, sees the same thing). An
/// enumeration left early continues, the next time, with the batch after the last one yielded.</para>
/// <para>Memory: at most <c>ReadAhead x BatchSize</c> samples are staged (read or being produced, not yet
/// yielded); see <see cref="PeakStagedSamples"/>.</para>
/// <para>Failures: a peer that fails is a miss (the sample is produced from the source); an exception of the
/// source ends the enumeration with that exception. Cancelling the token given to the enumeration stops it
/// promptly; when the enumerator has been disposed, no read or worker of it is left running.</para>
/// <para>Resume: <see cref="State"/> is the position; a loader constructed with it yields the batches that were
/// still to come, in the same order. A state from another world size or seed is refused.</para>
/// <para>Thread-safety: one enumeration at a time (a second concurrent one throws
/// <see cref="InvalidOperationException"/>); <see cref="State"/> and the counters may be read from any thread.
/// Ownership: each yielded list is a new array, the caller's.</para>
/// </remarks>
public sealed class CachedDataLoader<T> : IAsyncEnumerable<IReadOnlyList<T>>, IEnumerable<IReadOnlyList<T>>
{
    private readonly CachedDataset<T> _dataset;
    private readonly DistributedSampler _sampler;
    private readonly Lock _positionGate = new();
    private int _epoch;
    private long _nextBatch;
    private int _running;
    private int _staged;
    private int _peakStaged;
    private int _activeOperations;

    /// <summary>Creates a loader. Throws <see cref="ArgumentOutOfRangeException"/> naming a wrong option, <see cref="ArgumentException"/> for a state that does not fit.</summary>
    /// <param name="dataset">The cached dataset to read.</param>
    /// <param name="sampler">The order; its indices must lie within the dataset.</param>
    /// <param name="options">The settings; read once, now. Null: the defaults.</param>
    /// <param name="resumeFrom">A <see cref="State"/> saved earlier; null to start at the sampler's current epoch.</param>
    public CachedDataLoader(CachedDataset<T> dataset, DistributedSampler sampler, DataLoaderOptions? options = null, LoaderState? resumeFrom = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(sampler);
        options ??= new DataLoaderOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1, nameof(DataLoaderOptions.BatchSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ReadAhead, 1, nameof(DataLoaderOptions.ReadAhead));
        if (options.Workers is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(DataLoaderOptions.Workers), options.Workers, "Workers must be at least 1.");
        }

        if (sampler.DatasetSize > dataset.Count)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"The sampler covers {sampler.DatasetSize} samples but the dataset has {dataset.Count}."), nameof(sampler));
        }

        _dataset = dataset;
        _sampler = sampler;
        BatchSize = options.BatchSize;
        DropLast = options.DropLast;
        ReadAhead = options.ReadAhead;
        Workers = options.Workers ?? Math.Max(1, Environment.ProcessorCount / LaunchEnvironment.Read().LocalWorldSize);
        _epoch = sampler.Epoch;
        if (resumeFrom is not null)
        {
            if (resumeFrom.WorldSize != sampler.NumReplicas)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"The loader state was saved by a job of {resumeFrom.WorldSize} ranks; this job has {sampler.NumReplicas}. Resuming across world sizes is not supported: the shares of the epoch differ. Start the epoch over (without a state) instead."), nameof(resumeFrom));
            }

            if (resumeFrom.Seed != sampler.Seed)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"The loader state was saved with seed {resumeFrom.Seed}; this sampler's seed is {sampler.Seed}, so the order would differ."), nameof(resumeFrom));
            }

            if (resumeFrom.NextBatch > BatchesPerEpoch)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"The loader state's next batch {resumeFrom.NextBatch} is past the epoch's {BatchesPerEpoch} batches (was the batch size different?)."), nameof(resumeFrom));
            }

            sampler.SetEpoch(resumeFrom.Epoch);
            _epoch = resumeFrom.Epoch;
            _nextBatch = resumeFrom.NextBatch;
        }
    }

    /// <summary>Samples per batch.</summary>
    public int BatchSize { get; }

    /// <summary>Whether a last, smaller batch is dropped.</summary>
    public bool DropLast { get; }

    /// <summary>Threads producing misses.</summary>
    public int Workers { get; }

    /// <summary>Batches in flight ahead of the consumer.</summary>
    public int ReadAhead { get; }

    /// <summary>Batches in one epoch of this rank.</summary>
    public long BatchesPerEpoch => DropLast ? _sampler.NumSamples / BatchSize : (_sampler.NumSamples + BatchSize - 1) / BatchSize;

    /// <summary>The position: the batches still to come in this epoch start at <see cref="LoaderState.NextBatch"/>.</summary>
    public LoaderState State
    {
        get
        {
            lock (_positionGate)
            {
                return new LoaderState(_epoch, _nextBatch, _sampler.Seed, _sampler.NumReplicas);
            }
        }
    }

    /// <summary>Samples staged now (read or being produced, not yet yielded).</summary>
    public int StagedSamples => Volatile.Read(ref _staged);

    /// <summary>The most samples ever staged at once; never above <c>ReadAhead x BatchSize</c>.</summary>
    public int PeakStagedSamples => Volatile.Read(ref _peakStaged);

    /// <summary>Reads and worker threads of this loader still running (0 once an enumerator is disposed).</summary>
    public int ActiveOperations => Volatile.Read(ref _activeOperations);

    /// <summary>Enumerates the rest of the current epoch asynchronously; no thread waits on a batch.</summary>
    public async IAsyncEnumerable<IReadOnlyList<T>> ReadEpochAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var run = Begin(cancellationToken);
        try
        {
            while (await run.NextAsync().ConfigureAwait(false) is { } batch)
            {
                yield return batch;
            }
        }
        finally
        {
            await run.StopAsync().ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public IAsyncEnumerator<IReadOnlyList<T>> GetAsyncEnumerator(CancellationToken cancellationToken = default) =>
        ReadEpochAsync(CancellationToken.None).GetAsyncEnumerator(cancellationToken);

    /// <summary>Enumerates the rest of the current epoch for a synchronous loop: the calling thread waits for each batch on an event, not a task.</summary>
    public IEnumerator<IReadOnlyList<T>> GetEnumerator()
    {
        var run = Begin(CancellationToken.None);
        try
        {
            while (run.Next() is { } batch)
            {
                yield return batch;
            }
        }
        finally
        {
            run.Stop();
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    internal void AddStaged(int count)
    {
        var now = Interlocked.Add(ref _staged, count);
        var peak = Volatile.Read(ref _peakStaged);
        while (now > peak)
        {
            var seen = Interlocked.CompareExchange(ref _peakStaged, now, peak);
            if (seen == peak)
            {
                break;
            }

            peak = seen;
        }
    }

    internal void OperationStarted() => Interlocked.Increment(ref _activeOperations);

    internal void OperationEnded() => Interlocked.Decrement(ref _activeOperations);

    internal void Yielded(long nextBatch)
    {
        lock (_positionGate)
        {
            _nextBatch = nextBatch;
        }
    }

    internal void EpochCompleted()
    {
        lock (_positionGate)
        {
            _epoch++;
            _nextBatch = 0;
            _sampler.SetEpoch(_epoch);
        }

        // What the epoch produced should reach its owners before the next epoch asks for it.
        _dataset.Cache.RequestFlush();
    }

    private LoaderRun<T> Begin(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _running, 1) != 0)
        {
            throw new InvalidOperationException("This loader is already being enumerated; one enumeration at a time.");
        }

        try
        {
            int epoch;
            long next;
            lock (_positionGate)
            {
                if (_sampler.Epoch != _epoch)
                {
                    // The caller moved the sampler (SetEpoch): that epoch starts from its first batch.
                    _epoch = _sampler.Epoch;
                    _nextBatch = 0;
                }

                epoch = _epoch;
                next = _nextBatch;
            }

            return new LoaderRun<T>(this, _dataset, _sampler.Indices(epoch), next, BatchesPerEpoch, () => Volatile.Write(ref _running, 0), cancellationToken);
        }
        catch
        {
            Volatile.Write(ref _running, 0);
            throw;
        }
    }
}
