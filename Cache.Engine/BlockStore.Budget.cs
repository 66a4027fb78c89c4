namespace Cache.Engine;

/// <summary>The byte budget: what an entry is charged, reserving room, and making it under the policy.</summary>
public sealed partial class BlockStore
{
    /// <summary>Bytes charged per entry of the general index (keys with an expiration) on top of key and value: the managed objects such an entry costs, as measured
    /// (the entry, the array header of its bytes, the index's cache entry and dictionary node, a ring slot,
    /// and amortized table growth come to about 420 bytes on .NET 10; the lookaside table adds 16 to 32: two
    /// to four slots per entry). Samples cost far less: see <see cref="ChargeFor"/>.</summary>
    public const int EntryOverhead = 480;

    private long _used;

    /// <summary>
    /// The bytes a key without an expiration (every dataset sample), under any policy, is charged with these
    /// lengths. Its record (a 16-byte header, key and value, rounded up to 8 bytes) in the sample table's
    /// chunks, plus 52 bytes of index (a 16-byte slot at the lowest load a segment is left at, 5/16). What that leaves out is not per entry: the head chunk's
    /// unused tail (under 4 MB), the segments' fixed part, and dead records of chunks waiting for compaction.
    /// Checked against the process's RSS by perf <c>scale</c> (see the README).
    /// </summary>
    public static long ChargeFor(int keyLength, int valueLength) => SampleTable.ChargeFor(keyLength, valueLength);

    /// <summary>The bytes an entry of the general index with these lengths is charged: key, value and <see cref="EntryOverhead"/>.</summary>
    public static long IndexedChargeFor(int keyLength, int valueLength) => (long)EntryOverhead + keyLength + valueLength;

    /// <summary>The bytes an entry with these lengths would be charged in this store, with or without an expiration.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "Public since every store's charge depended on its policy; it no longer does (every policy has the sample table), and making it static would break its callers.")]
    public long ChargeOf(int keyLength, int valueLength, bool expiring = false) =>
        !expiring ? ChargeFor(keyLength, valueLength) : IndexedChargeFor(keyLength, valueLength);

    /// <summary>Keys a sample-table eviction compares (the least recently used of them goes), as Redis's <c>maxmemory-samples</c> (5 by default).</summary>
    internal const int EvictionSamples = 5;

    /// <summary>
    /// Reserves <paramref name="need"/> bytes, reclaiming expired entries and, when the policy allows, evicting.
    /// Never evicts <paramref name="keep"/> (the indexed entry being replaced) or the sample whose key is
    /// <paramref name="keepKey"/> (hash <paramref name="keepHash"/>, when <paramref name="keepSample"/>), whose charge the caller already counts on.
    /// </summary>
    private bool Reserve(long need, StoreEntry? keep, ReadOnlySpan<byte> keepKey = default, int keepHash = 0, bool keepSample = false)
    {
        var reclaimedExpired = false;
        for (var attempt = 0; attempt < 100_000; attempt++)
        {
            if (TryReserve(need))
            {
                return true;
            }

            if (!reclaimedExpired && Volatile.Read(ref _expiringCount) > 0)
            {
                reclaimedExpired = true;
                RemoveExpired(256, wait: false, keep);
                continue;
            }

            if (!EvictOne(keep, keepKey, keepHash, keepSample))
            {
                return false;
            }
        }

        return false;
    }

    /// <summary>
    /// Evicts one key under the policy, from whichever index holds it: false when there is none to evict (the
    /// policy retains, or nothing is left but the kept key). True also when the victim's stripe was busy and
    /// nothing left (the caller tries again).
    /// </summary>
    private bool EvictOne(StoreEntry? keep, ReadOnlySpan<byte> keepKey, int keepHash, bool keepSample)
    {
        var policy = Policy;
        if (policy == AdmissionPolicy.Retain)
        {
            return false;
        }

        // The two indexes are picked from in proportion to their entries, so that every key has the same
        // chance of being a candidate wherever it lives (Redis's allkeys policies sample the whole keyspace).
        var samples = _samples.Count;
        var indexed = _ring.Count;
        var fromTable = samples > 0 && (indexed == 0 || Random.Shared.NextInt64(samples + indexed) < samples);
        if (fromTable && TryEvictSample(policy, keepKey, keepHash, keepSample))
        {
            return true;
        }

        var victim = policy == AdmissionPolicy.Lru ? _ring.NextClockVictim(keep) : _ring.RandomEntry(keep);
        if (victim is not null)
        {
            TryEvict(victim);
            return true;
        }

        return !fromTable && samples > 0 && TryEvictSample(policy, keepKey, keepHash, keepSample);
    }

    /// <summary>Evicts a sample picked by <see cref="SampleTable.TryPickVictim"/>; false when the table has no candidate.</summary>
    private bool TryEvictSample(AdmissionPolicy policy, ReadOnlySpan<byte> keepKey, int keepHash, bool keepSample)
    {
        if (!_samples.TryPickVictim(Random.Shared, EvictionSamples, policy == AdmissionPolicy.Lru, keepKey, keepHash, keepSample, out var record, out var hash))
        {
            return false;
        }

        // TryEnter, as in TryEvict. The key's bytes stay readable after its record is released: the span holds the chunk.
        var gate = StripeOf(hash);
        if (!gate.TryEnter())
        {
            return true;
        }

        try
        {
            // Only the record sampled: a slot read while a compaction moved it may have named other bytes, and
            // evicting whatever key those spell would take a key the sampling never saw (a hot one, say).
            var key = record.KeySpan;
            if (_samples.TryFindLocked(key, hash, out var present) && present.Chunk == record.Chunk && present.Offset == record.Offset)
            {
                RemoveSampleLocked(key, hash, ref _evicted);
            }
        }
        finally
        {
            gate.Exit();
        }

        return true;
    }

    private bool TryReserve(long need)
    {
        var used = Volatile.Read(ref _used);
        while (used + need <= Capacity)
        {
            var seen = Interlocked.CompareExchange(ref _used, used + need, used);
            if (seen == used)
            {
                return true;
            }

            used = seen;
        }

        return false;
    }

    private void TryEvict(StoreEntry victim)
    {
        // TryEnter, not Enter: the evicting thread already holds its own key's stripe, and waiting
        // for another could deadlock against a writer evicting in the other direction.
        var gate = StripeOf(victim.Hash);
        if (!gate.TryEnter())
        {
            return;
        }

        try
        {
            if (!victim.Removed)
            {
                RemoveLocked(victim, ref _evicted);
            }
        }
        finally
        {
            gate.Exit();
        }
    }
}
