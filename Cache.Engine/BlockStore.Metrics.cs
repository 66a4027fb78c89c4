using System.Diagnostics.Metrics;

namespace Cache.Engine;

/// <summary>Counters, their snapshot, the meter, and the figures of where the store's memory is.</summary>
public sealed partial class BlockStore
{
    private readonly StripedCounter _hits = new();
    private readonly StripedCounter _misses = new();
    private long _added;
    private long _replaced;
    private long _rejectedFull;
    private long _rejectedTooLarge;
    private long _evicted;
    private long _expired;
    private long _removed;

    /// <summary>Entries in the sample table (see the class remarks); the rest of <see cref="Count"/> is in the general index.</summary>
    public long SampleCount => _samples.Count;

    /// <summary>Bytes of chunk memory the sample table holds now: live records, dead ones awaiting compaction, and the head chunk's unused tail.</summary>
    public long SampleChunkBytes => _samples.ChunkBytesHeld;

    /// <summary>Bytes of the sample table's index now (12 per slot).</summary>
    public long SampleIndexBytes => _samples.SlotCount * SampleTable.SlotBytes;

    /// <summary>A snapshot of the counters.</summary>
    public StoreStatistics GetStatistics() => new(
        _hits.Read(),
        _misses.Read(),
        Interlocked.Read(ref _added),
        Interlocked.Read(ref _replaced),
        Interlocked.Read(ref _rejectedFull),
        Interlocked.Read(ref _rejectedTooLarge),
        Interlocked.Read(ref _evicted),
        Interlocked.Read(ref _expired),
        Interlocked.Read(ref _removed),
        BytesUsed,
        Count,
        Capacity);

    private Meter CreateMeter()
    {
        var meter = new Meter("Cache.Engine");
        var tag = new KeyValuePair<string, object?>("cache.store", Name);
        meter.CreateObservableCounter("cache.store.hits", () => new Measurement<long>(_hits.Read(), tag), "{lookup}", "Lookups that found a live entry");
        meter.CreateObservableCounter("cache.store.misses", () => new Measurement<long>(_misses.Read(), tag), "{lookup}", "Lookups that found nothing");
        meter.CreateObservableCounter("cache.store.added", () => new Measurement<long>(Interlocked.Read(ref _added), tag), "{entry}", "Inserts of absent keys");
        meter.CreateObservableCounter("cache.store.rejected", () => new Measurement<long>(Interlocked.Read(ref _rejectedFull) + Interlocked.Read(ref _rejectedTooLarge), tag), "{entry}", "Inserts refused for lack of room");
        meter.CreateObservableCounter("cache.store.evicted", () => new Measurement<long>(Interlocked.Read(ref _evicted), tag), "{entry}", "Entries evicted to make room");
        meter.CreateObservableCounter("cache.store.expired", () => new Measurement<long>(Interlocked.Read(ref _expired), tag), "{entry}", "Entries whose time to live ran out");
        meter.CreateObservableGauge("cache.store.bytes_used", () => new Measurement<long>(BytesUsed, tag), "By", "Bytes charged to the budget");
        meter.CreateObservableGauge("cache.store.entries", () => new Measurement<long>(Count, tag), "{entry}", "Entries stored");
        return meter;
    }
}
