using System.Collections.Concurrent;
using Cache.Engine;

namespace Cache.Dataset;

/// <summary>
/// The bounded staging area behind <see cref="CachedDataset{T}.Prefetch(IReadOnlyList{long})"/>: hinted samples
/// are read from the cache in the background, one batched read per hint, and wait here for the first indexer
/// call that asks for them. At most <see cref="Capacity"/> samples are staged or in flight; when it is full,
/// the oldest staged samples make room, and hints beyond that are ignored. Thread-safe.
/// </summary>
internal sealed class PrefetchStage<T> : IDisposable
{
    private readonly CachedDataset<T> _dataset;
    private readonly ConcurrentDictionary<int, Slot> _slots = new();
    private readonly ConcurrentQueue<int> _age = new();
    private readonly Lock _reserveGate = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ActivityTracker _activity = new();
    private int _count;
    private bool _stopped;
    private int _peak;
    private long _taken;

    public PrefetchStage(CachedDataset<T> dataset, int capacity)
    {
        _dataset = dataset;
        Capacity = capacity;
    }

    public int Capacity { get; }

    /// <summary>Samples staged or in flight now.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>The most samples ever staged or in flight at once.</summary>
    public int Peak => Volatile.Read(ref _peak);

    /// <summary>Indexer calls served from the stage.</summary>
    public long Taken => Interlocked.Read(ref _taken);

    /// <summary>Reads running in the background.</summary>
    public int ActiveReads => _activity.Active;

    public void Hint(IReadOnlyList<long> indices)
    {
        if (Capacity == 0 || Volatile.Read(ref _stopped))
        {
            return;
        }

        var chosen = new List<int>(indices.Count);
        lock (_reserveGate)
        {
            foreach (var hinted in indices)
            {
                if (hinted < 0 || hinted >= _dataset.Count || _slots.ContainsKey((int)hinted))
                {
                    continue;
                }

                if (_count >= Capacity && !EvictOldest())
                {
                    break;
                }

                var index = (int)hinted;
                _slots[index] = new Slot();
                _age.Enqueue(index);
                _peak = Math.Max(_peak, Interlocked.Increment(ref _count));
                chosen.Add(index);
            }
        }

        if (chosen.Count > 0)
        {
            _activity.Enter();
            _ = Task.Run(() => FetchAsync(chosen));
        }
    }

    /// <summary>Hands over a staged sample, once, and counts it as the dataset's hit (the background read was not counted).</summary>
    public bool TryTake(int index, out T sample)
    {
        if (Volatile.Read(ref _count) > 0 && _slots.TryGetValue(index, out var slot) && slot.Ready
            && _slots.TryRemove(new KeyValuePair<int, Slot>(index, slot)))
        {
            Interlocked.Decrement(ref _count);
            Interlocked.Increment(ref _taken);
            _dataset.Cache.CountHit();
            sample = slot.Sample;
            return true;
        }

        sample = default!;
        return false;
    }

    /// <summary>Waits until no background read is running (tests).</summary>
    internal void WaitIdle() => _activity.WaitIdle();

    public void Stop()
    {
        Volatile.Write(ref _stopped, true);
        _stop.Cancel();
        _activity.WaitIdle();
    }

    public void Dispose()
    {
        Stop();
        _stop.Dispose();
    }

    public async ValueTask StopAsync()
    {
        Volatile.Write(ref _stopped, true);
        await _stop.CancelAsync().ConfigureAwait(false);
        await _activity.WaitIdleAsync().ConfigureAwait(false);
    }

    // Under _reserveGate. Only a staged sample (not one in flight) is evicted: its slot is free at once.
    private bool EvictOldest()
    {
        var inspected = _age.Count;
        while (inspected-- > 0 && _age.TryDequeue(out var index))
        {
            if (!_slots.TryGetValue(index, out var slot))
            {
                continue;
            }

            if (slot.Ready && _slots.TryRemove(new KeyValuePair<int, Slot>(index, slot)))
            {
                Interlocked.Decrement(ref _count);
                return true;
            }

            _age.Enqueue(index);
        }

        return false;
    }

    private async Task FetchAsync(List<int> indices)
    {
        try
        {
            var keys = new StoreKey[indices.Count];
            for (var i = 0; i < keys.Length; i++)
            {
                keys[i] = _dataset.KeyOf(indices[i]);
            }

            var samples = new T[keys.Length];
            var found = new bool[keys.Length];
            try
            {
                // Uncounted: the indexer counts the read when it asks (a staged sample as a hit, a miss as its own
                // miss), so a hinted sample is counted once, as an unhinted one is.
                await _dataset.Cache.GetManyAsync(keys, samples, found, SampleReads.Uncounted, _stop.Token).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // A hint that fails is a hint not taken: the indexer reads as usual.
            catch (Exception)
#pragma warning restore CA1031
            {
                found.AsSpan().Clear();
            }

            for (var i = 0; i < indices.Count; i++)
            {
                if (!_slots.TryGetValue(indices[i], out var slot))
                {
                    continue;
                }

                if (found[i])
                {
                    slot.Fill(samples[i]);
                }
                else if (_slots.TryRemove(new KeyValuePair<int, Slot>(indices[i], slot)))
                {
                    // A miss is not staged: the indexer produces it (on the caller's loader thread).
                    Interlocked.Decrement(ref _count);
                }
            }
        }
        finally
        {
            _activity.Exit();
        }
    }

    private sealed class Slot
    {
        private volatile bool _ready;

        public bool Ready => _ready;

        public T Sample { get; private set; } = default!;

        public void Fill(T sample)
        {
            Sample = sample;
            _ready = true;
        }
    }
}
