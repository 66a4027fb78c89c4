namespace Cache.Engine;

/// <summary>The byte budget: what an entry is charged, reserving room, and making it under the policy.</summary>
public sealed partial class BlockStore
{
    /// <summary>Bytes charged per entry of the general index (keys with an expiration, and every key of an
    /// Lru or Random store) on top of key and value: the managed objects such an entry costs, as measured
    /// (the entry, the array header of its bytes, the index's cache entry and dictionary node, a ring slot,
    /// and amortized table growth come to about 420 bytes on .NET 10; the lookaside table adds 16 to 32: two
    /// to four slots per entry). Samples cost far less: see <see cref="ChargeFor"/>.</summary>
    public const int EntryOverhead = 480;

    private long _used;

    /// <summary>
    /// The bytes a sample with these lengths is charged: a key without an expiration in a
    /// <see cref="AdmissionPolicy.Retain"/> store, every dataset sample. Its record (a 16-byte header, key and
    /// value, rounded up to 8 bytes) in the sample table's chunks, plus 32 bytes of index (a 12-byte slot at
    /// the lowest load a growing segment has, 3/8). What that leaves out is not per entry: the head chunk's
    /// unused tail (under 4 MB), the segments' fixed part, and dead records of chunks waiting for compaction.
    /// Checked against the process's RSS by perf <c>scale</c> (see the README).
    /// </summary>
    public static long ChargeFor(int keyLength, int valueLength) => SampleTable.ChargeFor(keyLength, valueLength);

    /// <summary>The bytes an entry of the general index with these lengths is charged: key, value and <see cref="EntryOverhead"/>.</summary>
    public static long IndexedChargeFor(int keyLength, int valueLength) => (long)EntryOverhead + keyLength + valueLength;

    /// <summary>The bytes an entry with these lengths would be charged in this store, with or without an expiration.</summary>
    public long ChargeOf(int keyLength, int valueLength, bool expiring = false) =>
        _samples is not null && !expiring ? ChargeFor(keyLength, valueLength) : IndexedChargeFor(keyLength, valueLength);

    /// <summary>Reserves <paramref name="need"/> bytes, reclaiming expired entries and, when the policy allows, evicting.</summary>
    private bool Reserve(long need, StoreEntry? keep)
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

            var victim = Policy switch
            {
                AdmissionPolicy.Lru => _ring.NextClockVictim(keep),
                AdmissionPolicy.Random => _ring.RandomEntry(keep),
                _ => null,
            };
            if (victim is null)
            {
                return false;
            }

            TryEvict(victim);
        }

        return false;
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
