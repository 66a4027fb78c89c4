namespace Cache.Engine;

/// <summary>Expiration: reading and changing a key's, reclaiming expired entries on demand and in the background (as Redis's active expiry).</summary>
/// <remarks>Only the general index holds entries with an expiration; a sample given one moves there (see <see cref="SampleTable"/>).</remarks>
public sealed partial class BlockStore
{
    private int _expiringCount;

    /// <summary>Entries that carry an expiration now.</summary>
    public long ExpiringCount => Volatile.Read(ref _expiringCount);

    /// <summary>Sets or clears (0) a present key's expiration; a time already past deletes the key. Returns false when the key is absent.</summary>
    public bool TrySetExpiration(ReadOnlySpan<byte> key, long expiresAtUnixMs)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(expiresAtUnixMs);
        var probe = StoreKey.ForLookup(key);
        var hash = probe.GetHashCode();
        lock (StripeOf(hash))
        {
            if (_samples.TryFindLocked(key, hash, out var record))
            {
                ExpireSampleLocked(hash, key, record, expiresAtUnixMs);
                return true;
            }

            var entry = LookupLocked(probe);
            if (entry is null)
            {
                return false;
            }

            ApplyExpirationLocked(entry, expiresAtUnixMs);
            return true;
        }
    }

    /// <summary>A present key's expiration in Unix milliseconds (0 for none). Returns false when the key is absent.</summary>
    public bool TryGetExpiration(ReadOnlySpan<byte> key, out long expiresAtUnixMs)
    {
        var hash = StoreKey.HashOf(key);
        if (_samples.TryFind(key, hash, out _))
        {
            expiresAtUnixMs = 0;
            return true;
        }

        var entry = Find(key, hash);
        expiresAtUnixMs = entry?.ExpiresAtUnixMs ?? 0;
        return entry is not null;
    }

    /// <summary>Removes up to <paramref name="max"/> expired entries found by sampling; returns how many.</summary>
    public int RemoveExpired(int max = 64) => RemoveExpired(max, wait: true, keep: null);

    /// <param name="max">Most entries to remove.</param>
    /// <param name="wait">False when the caller holds a stripe lock: other stripes are only tried, never waited for.</param>
    /// <param name="keep">An entry the caller is about to replace under its own (re-entrant) stripe lock: never removed here.</param>
    private int RemoveExpired(int max, bool wait, StoreEntry? keep)
    {
        if (Volatile.Read(ref _expiringCount) == 0)
        {
            return 0;
        }

        var now = NowUnixMs;
        var removed = 0;
        foreach (var entry in _ring.SampleExpired(now, max))
        {
            if (entry == keep)
            {
                continue;
            }

            // A writer reclaiming room already holds its own stripe: it must not wait for another.
            var gate = StripeOf(entry.Hash);
            if (wait)
            {
                gate.Enter();
            }
            else if (!gate.TryEnter())
            {
                continue;
            }

            try
            {
                if (!entry.Removed && entry.IsExpired(now))
                {
                    RemoveLocked(entry, ref _expired);
                    removed++;
                }
            }
            finally
            {
                gate.Exit();
            }
        }

        return removed;
    }

    private void ApplyExpirationLocked(StoreEntry entry, long expiresAtUnixMs)
    {
        if (expiresAtUnixMs != 0 && expiresAtUnixMs <= NowUnixMs)
        {
            RemoveLocked(entry, ref _expired);
            return;
        }

        if ((entry.ExpiresAtUnixMs == 0) != (expiresAtUnixMs == 0))
        {
            Interlocked.Add(ref _expiringCount, expiresAtUnixMs == 0 ? -1 : 1);
        }

        entry.ExpiresAtUnixMs = expiresAtUnixMs;
    }

    private void SweepExpired()
    {
        // Like Redis's active expiry: keep sampling while a good share of the sample was expired,
        // but bound the work per tick.
        try
        {
            for (var round = 0; round < 16 && Volatile.Read(ref _disposed) == 0; round++)
            {
                if (RemoveExpired(64) < 16)
                {
                    return;
                }
            }
        }
        catch (ObjectDisposedException)
        {
            // The store was disposed while this tick ran: nothing left to sweep. A timer callback must not throw.
        }
    }
}
