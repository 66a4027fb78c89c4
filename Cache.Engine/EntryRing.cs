namespace Cache.Engine;

/// <summary>
/// A dense array of every live entry, for eviction (a CLOCK hand or a random pick), sampling of
/// expiring entries, and enumeration. Removal swaps the last entry into the hole so that the array
/// stays dense. All members take the ring's own lock; callers never hold it while taking a stripe lock.
/// </summary>
internal sealed class EntryRing
{
    private readonly Lock _lock = new();
    private StoreEntry?[] _entries = new StoreEntry?[64];
    private int _count;
    private int _hand;

    public int Count => Volatile.Read(ref _count);

    public void Add(StoreEntry entry)
    {
        lock (_lock)
        {
            if (_count == _entries.Length)
            {
                Array.Resize(ref _entries, _entries.Length * 2);
            }

            entry.RingIndex = _count;
            _entries[_count++] = entry;
        }
    }

    public void Remove(StoreEntry entry)
    {
        lock (_lock)
        {
            var index = entry.RingIndex;
            if (index < 0)
            {
                return;
            }

            var last = --_count;
            if (index != last)
            {
                var moved = _entries[last]!;
                _entries[index] = moved;
                moved.RingIndex = index;
            }

            _entries[last] = null;
            entry.RingIndex = -1;
            if (_count > 1024 && _count < _entries.Length / 4)
            {
                Array.Resize(ref _entries, _entries.Length / 2);
            }
        }
    }

    /// <summary>The next CLOCK victim: the first entry under the hand whose reference bit is clear, clearing bits on the way.</summary>
    public StoreEntry? NextClockVictim(StoreEntry? exclude)
    {
        lock (_lock)
        {
            // Two sweeps clear every bit once, so a victim is always found unless the only entry is excluded.
            for (var step = 0; step < 2 * _count + 1 && _count > 0; step++)
            {
                if (_hand >= _count)
                {
                    _hand = 0;
                }

                var candidate = _entries[_hand++]!;
                if (candidate == exclude)
                {
                    continue;
                }

                if (candidate.Referenced)
                {
                    candidate.Referenced = false;
                    continue;
                }

                return candidate;
            }

            return null;
        }
    }

    public StoreEntry? RandomVictim(StoreEntry? exclude)
    {
        lock (_lock)
        {
            for (var attempt = 0; attempt < 4 && _count > 0; attempt++)
            {
                var candidate = _entries[System.Random.Shared.Next(_count)]!;
                if (candidate != exclude)
                {
                    return candidate;
                }
            }

            return null;
        }
    }

    /// <summary>Up to <paramref name="max"/> expired entries, sampled from the hand onwards (as Redis's active expiry samples).</summary>
    public List<StoreEntry> SampleExpired(long nowUnixMs, int max)
    {
        var found = new List<StoreEntry>();
        lock (_lock)
        {
            var start = _count == 0 ? 0 : System.Random.Shared.Next(_count);
            var budget = Math.Min(_count, Math.Max(max * 20, 256));
            for (var i = 0; i < budget && found.Count < max; i++)
            {
                var entry = _entries[(start + i) % _count]!;
                if (entry.IsExpired(nowUnixMs))
                {
                    found.Add(entry);
                }
            }
        }

        return found;
    }

    /// <summary>A snapshot of the entries at positions [<paramref name="start"/>, start + destination length).</summary>
    public int CopyRange(int start, StoreEntry[] destination)
    {
        lock (_lock)
        {
            var n = Math.Clamp(_count - start, 0, destination.Length);
            Array.Copy(_entries, start, destination, 0, n);
            return n;
        }
    }

    /// <summary>A snapshot of every live entry.</summary>
    public StoreEntry[] Snapshot()
    {
        lock (_lock)
        {
            var copy = new StoreEntry[_count];
            Array.Copy(_entries, copy, _count);
            return copy;
        }
    }
}
