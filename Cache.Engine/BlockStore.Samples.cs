using System.Buffers;

namespace Cache.Engine;

/// <summary>The sample table's side of the store (see <see cref="SampleTable"/> and the class remarks): inserts, moves to the general index, removals, compaction.</summary>
public sealed partial class BlockStore
{
    private int _compactionScheduled;

    /// <summary>Inserts or replaces a sample; <paramref name="presentBytes"/> is its present record's size (0: absent). Caller holds the key's stripe lock.</summary>
    private SetResult SetSampleLocked(int hash, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, int presentBytes)
    {
        var size = ChargeFor(key.Length, value.Length);
        if (size > Capacity)
        {
            Interlocked.Increment(ref _rejectedTooLarge);
            return SetResult.RejectedTooLarge;
        }

        var need = size - (presentBytes == 0 ? 0 : presentBytes + SampleTable.IndexChargePerEntry);
        if (need > 0 && !Reserve(need, keep: null, key, hash, keepSample: presentBytes != 0))
        {
            Interlocked.Increment(ref _rejectedFull);
            return SetResult.RejectedFull;
        }

        _samples.SetLocked(key, hash, value, out _, out _);
        if (need < 0)
        {
            Interlocked.Add(ref _used, need);
        }

        if (presentBytes == 0)
        {
            CountTracked(key, 1);
            Interlocked.Increment(ref _added);
            return SetResult.Added;
        }

        Interlocked.Increment(ref _replaced);
        ScheduleCompaction();
        return SetResult.Replaced;
    }

    /// <summary>
    /// Gives a sample an expiration by moving it to the general index, whose entries can expire. Inserted
    /// there before it leaves the table, so that a lock-free reader (which looks in the table first) never
    /// misses it. Caller holds the key's stripe lock.
    /// </summary>
    private SetResult MoveToIndexLocked(int hash, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, long expiresAtUnixMs, int presentBytes)
    {
        var size = IndexedChargeFor(key.Length, value.Length);
        if (size > Capacity)
        {
            Interlocked.Increment(ref _rejectedTooLarge);
            return SetResult.RejectedTooLarge;
        }

        var need = size - (presentBytes + SampleTable.IndexChargePerEntry);
        if (need > 0 && !Reserve(need, keep: null, key, hash, keepSample: true))
        {
            Interlocked.Increment(ref _rejectedFull);
            return SetResult.RejectedFull;
        }

        // The value may be the record's own bytes (EXPIRE moves the present value): copied before the record goes.
        AddIndexedLocked(hash, key, value, size, expiresAtUnixMs);
        _samples.RemoveLocked(key, hash);
        if (need < 0)
        {
            Interlocked.Add(ref _used, need);
        }

        Interlocked.Increment(ref _replaced);
        ScheduleCompaction();
        return SetResult.Replaced;
    }

    /// <summary>Removes a sample, counting it in <paramref name="counter"/>. False when the key is not in the sample table. Caller holds the key's stripe lock.</summary>
    private bool RemoveSampleLocked(ReadOnlySpan<byte> key, int hash, ref long counter)
    {
        var bytes = _samples.RemoveLocked(key, hash);
        if (bytes == 0)
        {
            return false;
        }

        CountTracked(key, -1);
        Interlocked.Add(ref _used, -(bytes + SampleTable.IndexChargePerEntry));
        Interlocked.Increment(ref counter);
        ScheduleCompaction();
        return true;
    }

    /// <summary>
    /// Gives a present sample a new expiration (Redis's EXPIRE family on a key that has none): 0 changes
    /// nothing, a time already past deletes it, a later one moves it to the general index. Caller holds the key's stripe lock.
    /// </summary>
    private void ExpireSampleLocked(int hash, ReadOnlySpan<byte> key, SampleRecord record, long expiresAtUnixMs)
    {
        if (expiresAtUnixMs == 0)
        {
            return;
        }

        if (expiresAtUnixMs <= NowUnixMs)
        {
            RemoveSampleLocked(key, hash, ref _expired);
            return;
        }

        if (MoveToIndexLocked(hash, key, record.ValueSpan, expiresAtUnixMs, record.Bytes) is SetResult.RejectedFull or SetResult.RejectedTooLarge)
        {
            // No room for the indexed entry's larger charge: as Redis refuses a write when memory is short,
            // the key stays as it was (without the expiration) rather than being lost.
            return;
        }
    }

    /// <summary>Compacts the sample table's mostly dead chunks on the thread pool, one pass at a time, never on the caller's thread.</summary>
    private void ScheduleCompaction()
    {
        if (!_samples.HasSparseChunks || Interlocked.CompareExchange(ref _compactionScheduled, 1, 0) != 0)
        {
            return;
        }

        ThreadPool.UnsafeQueueUserWorkItem(static store => store.RunCompaction(), this, preferLocal: false);
    }

    private void RunCompaction()
    {
        try
        {
            if (Volatile.Read(ref _disposed) == 0)
            {
                _samples.CompactPending(StripeOf);
            }
        }
        finally
        {
            Volatile.Write(ref _compactionScheduled, 0);
        }
    }

    /// <summary>Compacts every chunk waiting for it, on the caller's thread, and waits out a pass running in the background (tests).</summary>
    internal void CompactSamples()
    {
        while (_samples.HasSparseChunks || _samples.IsCompacting)
        {
            _samples.CompactPending(StripeOf);
            Thread.Yield();
        }
    }
}
