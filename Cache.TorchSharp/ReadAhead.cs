using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Cache.Dataset;

namespace Cache.TorchSharp;

/// <summary>
/// Fetches hinted samples' bytes ahead of <see cref="CachedTensorDataset.GetTensor"/> on one dedicated
/// thread, newest hint first: batched cache reads (one request per owner) and, on a miss, the source's preprocessing, so
/// that TorchSharp's loader, which asks for one batch at a time, finds them ready.
/// </summary>
/// <remarks>
/// <para>Each hinted index gets a slot: claimed (being fetched), then filled. A reader takes a filled slot;
/// a reader that comes first removes the claim and fetches the sample itself, and the late result is
/// dropped, so nobody ever waits for the read-ahead. At most <c>capacity</c> slots exist: past that the
/// oldest are dropped (an abandoned epoch's hints do not pin memory).</para>
/// <para>Thread-safety: <see cref="Hint"/> and <see cref="TryTake"/> from any thread.</para>
/// </remarks>
internal sealed class ReadAhead : IDisposable
{
    // Cached samples are read 16 at a time: one request per owner for many samples. While samples are being
    // produced (the first epoch), it goes 2 at a time: the loader's workers outrun one thread there, and a
    // reader that takes over a sample the read-ahead is producing wastes at most that much work.
    private const int BatchSize = 16;
    private const int ProducingBatchSize = 2;

    private readonly CachedDataset<ReadOnlyMemory<byte>> _dataset;
    private readonly int _capacity;
    private readonly ConcurrentDictionary<long, StrongBox<ReadOnlyMemory<byte>>?> _slots = new();
    private readonly ConcurrentQueue<long> _order = new();
    // Newest hint first: when the readers have overtaken the read-ahead, what they are about to reach is
    // stale, and the newest hint is the furthest ahead of them.
    private readonly BlockingCollection<long[]> _hints = new(new ConcurrentStack<long[]>());
    private readonly Thread _worker;
    private long _taken;
    private long _overtaken;
    private int _disposed;

    public ReadAhead(CachedDataset<ReadOnlyMemory<byte>> dataset, int capacity)
    {
        _dataset = dataset;
        _capacity = capacity;
        _worker = new Thread(Run) { IsBackground = true, Name = "Cache.TorchSharp read-ahead " + dataset.DatasetName };
        _worker.Start();
    }

    /// <summary>Samples served from the read-ahead.</summary>
    public long Taken => Interlocked.Read(ref _taken);

    /// <summary>Samples asked for while the read-ahead was still fetching them (fetched by the reader).</summary>
    public long Overtaken => Interlocked.Read(ref _overtaken);

    /// <summary>Samples fetched and waiting to be taken (counts the slots; for tests).</summary>
    public int Ready => _slots.Values.Count(slot => slot is not null);

    public void Hint(IReadOnlyList<long> indices)
    {
        var claimed = new List<long>(indices.Count);
        foreach (var index in indices)
        {
            if (index >= 0 && index < _dataset.Count && _slots.TryAdd(index, null))
            {
                claimed.Add(index);
                _order.Enqueue(index);
            }
        }

        while (_order.Count > _capacity && _order.TryDequeue(out var oldest))
        {
            _slots.TryRemove(oldest, out _);
        }

        if (claimed.Count > 0 && Volatile.Read(ref _disposed) == 0)
        {
            try
            {
                _hints.Add([.. claimed]);
            }
            catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException)
            {
                // Disposed meanwhile: a hint is never a demand.
            }
        }
    }

    public bool TryTake(long index, out ReadOnlyMemory<byte> bytes)
    {
        if (_slots.TryRemove(index, out var slot))
        {
            if (slot is not null)
            {
                Interlocked.Increment(ref _taken);
                bytes = slot.Value;
                return true;
            }

            Interlocked.Increment(ref _overtaken);
        }

        bytes = default;
        return false;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _hints.CompleteAdding();
        _worker.Join();
        _hints.Dispose();
        _slots.Clear();
    }

    private void Run()
    {
        var wanted = new List<int>(BatchSize);
        var producing = false;
        foreach (var chunk in _hints.GetConsumingEnumerable())
        {
            var start = 0;
            while (start < chunk.Length)
            {
                var end = Math.Min(chunk.Length, start + (producing ? ProducingBatchSize : BatchSize));
                wanted.Clear();
                for (var k = start; k < end; k++)
                {
                    // Skip what a reader has taken over (or what was dropped) since the hint.
                    if (_slots.TryGetValue(chunk[k], out var slot) && slot is null)
                    {
                        wanted.Add((int)chunk[k]);
                    }
                }

                start = end;
                if (wanted.Count == 0)
                {
                    continue;
                }

                IReadOnlyList<ReadOnlyMemory<byte>> values;
                var missesBefore = _dataset.Statistics.Misses;
                try
                {
                    values = _dataset.GetMany(wanted);
                }
#pragma warning disable CA1031 // The source failed: readers fetch these samples themselves and see the exception there.
                catch (Exception)
#pragma warning restore CA1031
                {
                    foreach (var index in wanted)
                    {
                        _slots.TryRemove(index, out _);
                    }

                    continue;
                }

                producing = _dataset.Statistics.Misses > missesBefore;
                for (var k = 0; k < wanted.Count; k++)
                {
                    // Fails when a reader removed the claim meanwhile: it fetched the sample itself.
                    _slots.TryUpdate(wanted[k], new StrongBox<ReadOnlyMemory<byte>>(values[k]), null);
                }
            }
        }
    }
}
