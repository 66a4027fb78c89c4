namespace Cache.Engine;

/// <summary>Operations over many keys: cursor scans, a random key, removal by prefix.</summary>
public sealed partial class BlockStore
{
    /// <summary>
    /// One step of a cursor scan, as Redis's SCAN: appends the live keys found at the next
    /// <paramref name="positions"/> positions from <paramref name="cursor"/> (start with 0) and returns the
    /// cursor to continue from, 0 when the scan is complete. Every key present from the start of a full scan
    /// to its end is returned exactly once; keys added or removed meanwhile may or may not be.
    /// </summary>
    /// <remarks>Cursors below <see cref="SampleTable.SegmentCount"/> walk its
    /// segments (whole segments at a time: a key never leaves its segment, so a segment's keys are seen
    /// together), and the cursors above walk the general index's ring.</remarks>
    public int Scan(int cursor, int positions, List<StoreKey> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentOutOfRangeException.ThrowIfNegative(cursor);
        ArgumentOutOfRangeException.ThrowIfLessThan(positions, 1);
        if (cursor < SampleTable.SegmentCount)
        {
            var visited = 0;
            while (cursor < SampleTable.SegmentCount && visited < positions)
            {
                // The work of a step is the keys it copies: empty segments cost a read of their count.
                var live = _samples.LiveIn(cursor);
                visited += live;
                if (live > 0)
                {
                    lock (StripeOf(cursor))
                    {
                        _samples.CopyKeysLocked(cursor, keys);
                    }
                }

                cursor++;
            }

            // Past the last segment, the ring (a store of samples only ends here).
            return cursor < SampleTable.SegmentCount || _ring.Count > 0 ? cursor : 0;
        }

        // Cursors from SegmentCount on walk the ring.
        const int RingStart = SampleTable.SegmentCount;

        var chunk = new List<StoreEntry>(Math.Min(positions, 4096));
        var next = _ring.Scan(cursor - RingStart, positions, chunk);
        var now = NowUnixMs;
        foreach (var entry in chunk)
        {
            if (!entry.IsExpired(now))
            {
                keys.Add(entry.CopyKey());
            }
        }

        return next == 0 ? 0 : next + RingStart;
    }

    /// <summary>A live key chosen at random, or null when the store is empty.</summary>
    public StoreKey? RandomKey()
    {
        var samples = _samples.Count;
        var indexed = _ring.Count;
        if (samples > 0 && System.Random.Shared.NextInt64(samples + indexed) < samples)
        {
            for (var attempt = 0; attempt < 64; attempt++)
            {
                var segment = System.Random.Shared.Next(SampleTable.SegmentCount);
                if (_samples.LiveIn(segment) == 0)
                {
                    continue;
                }

                lock (StripeOf(segment))
                {
                    if (_samples.KeyNearLocked(segment, System.Random.Shared.Next()) is { } key)
                    {
                        return key;
                    }
                }
            }
        }

        var now = NowUnixMs;
        for (var attempt = 0; attempt < 32; attempt++)
        {
            var entry = _ring.RandomEntry();
            if (entry is null)
            {
                break;
            }

            if (!entry.IsExpired(now))
            {
                return entry.CopyKey();
            }
        }

        // Nothing indexed (or only expired entries): any sample will do.
        for (var segment = 0; samples > 0 && segment < SampleTable.SegmentCount; segment++)
        {
            if (_samples.LiveIn(segment) > 0)
            {
                lock (StripeOf(segment))
                {
                    if (_samples.KeyNearLocked(segment, 0) is { } key)
                    {
                        return key;
                    }
                }
            }
        }

        return null;
    }

    /// <summary>Removes every key that starts with <paramref name="prefix"/> (an empty prefix removes everything). Returns how many were removed.</summary>
    public long RemoveKeys(ReadOnlySpan<byte> prefix)
    {
        long removed = 0;
        var tally = new RemovalTally(this);
        for (var segment = 0; segment < SampleTable.SegmentCount; segment++)
        {
            if (_samples.LiveIn(segment) == 0)
            {
                continue;
            }

            lock (StripeOf(segment))
            {
                _samples.RemovePrefixedLocked(segment, prefix, tally, static (tally, record) => tally.Removed(record));
            }
        }

        removed += tally.Count;
        ScheduleCompaction();

        foreach (var entry in _ring.Snapshot())
        {
            if (!entry.KeySpan.StartsWith(prefix))
            {
                continue;
            }

            lock (StripeOf(entry.Hash))
            {
                if (!entry.Removed)
                {
                    RemoveLocked(entry, ref _removed);
                    removed++;
                }
            }
        }

        // A flush leaves the lookaside far larger than what is left needs: give it back.
        _lookaside.Shrink(_ring.Count);
        return removed;
    }

    /// <summary>Removes every entry.</summary>
    public void Clear() => RemoveKeys([]);

    /// <summary>Accounts for samples removed by prefix, under their stripe (see <see cref="RemoveKeys"/>).</summary>
    private sealed class RemovalTally(BlockStore store)
    {
        public long Count { get; private set; }

        public void Removed(SampleRecord record)
        {
            store.CountTracked(record.KeySpan, -1);
            Interlocked.Add(ref store._used, -(record.Bytes + SampleTable.IndexChargePerEntry));
            Interlocked.Increment(ref store._removed);
            Count++;
        }
    }
}
