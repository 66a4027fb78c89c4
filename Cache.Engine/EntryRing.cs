namespace Cache.Engine;

/// <summary>
/// Every live entry at a stable position, for eviction (a CLOCK hand or a random pick), sampling of
/// expiring entries, and cursor-based scans. An entry never moves while it lives: removal leaves a
/// hole that a later insert reuses, so a scan by position sees every entry that stays present from
/// its start to its end exactly once (the guarantee of Redis's SCAN). All members take the ring's
/// own lock; callers never hold it while taking a stripe lock.
/// </summary>
internal sealed class EntryRing
{
    /// <summary>Positions live in blocks of this many: growing adds a block (and copies only the block
    /// list), never a copy of every entry under the lock that every insert takes.</summary>
    private const int BlockShift = 14;
    private const int BlockSize = 1 << BlockShift;

    private readonly Lock _lock = new();
    private readonly Stack<int> _holes = new();
    private StoreEntry?[][] _blocks = [new StoreEntry?[BlockSize]];
    private int _high;
    private int _count;
    private int _hand;

    /// <summary>Live entries.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>One past the highest position in use: the end of a scan.</summary>
    public int High => Volatile.Read(ref _high);

    public void Add(StoreEntry entry)
    {
        lock (_lock)
        {
            int index;
            if (_holes.Count > 0)
            {
                index = _holes.Pop();
            }
            else
            {
                if (_high == _blocks.Length * BlockSize)
                {
                    _blocks = [.. _blocks, new StoreEntry?[BlockSize]];
                }

                index = _high++;
            }

            entry.RingIndex = index;
            At(index) = entry;
            _count++;
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

            At(index) = null;
            entry.RingIndex = -1;
            _count--;
            if (_count == 0)
            {
                // Empty: start over, releasing a ring that a burst had grown.
                _holes.Clear();
                _high = 0;
                _hand = 0;
                if (_blocks.Length > 1)
                {
                    _blocks = [new StoreEntry?[BlockSize]];
                }
            }
            else if (index == _high - 1)
            {
                _high--;
            }
            else
            {
                _holes.Push(index);
            }
        }
    }

    /// <summary>The next CLOCK victim: the first entry under the hand whose reference bit is clear, clearing bits on the way.</summary>
    public StoreEntry? NextClockVictim(StoreEntry? exclude)
    {
        lock (_lock)
        {
            // Two sweeps clear every bit once, so a victim is found unless the only entry is excluded.
            for (var step = 0; step < (2 * _high) + 1 && _count > 0; step++)
            {
                if (_hand >= _high)
                {
                    _hand = 0;
                }

                var candidate = At(_hand++);
                if (candidate is null || candidate == exclude)
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

    /// <summary>A live entry picked at random (null when there is none but <paramref name="exclude"/>).</summary>
    public StoreEntry? RandomEntry(StoreEntry? exclude = null)
    {
        lock (_lock)
        {
            if (_count == 0)
            {
                return null;
            }

            // Holes are at most the positions ever freed; random probes find an entry quickly while
            // the ring is reasonably full, and a linear pass from a random start bounds the worst case.
            for (var attempt = 0; attempt < 16; attempt++)
            {
                var candidate = At(System.Random.Shared.Next(_high));
                if (candidate is not null && candidate != exclude)
                {
                    return candidate;
                }
            }

            var start = System.Random.Shared.Next(_high);
            for (var i = 0; i < _high; i++)
            {
                var candidate = At((start + i) % _high);
                if (candidate is not null && candidate != exclude)
                {
                    return candidate;
                }
            }

            return null;
        }
    }

    /// <summary>Up to <paramref name="max"/> expired entries, sampled from a random position (as Redis's active expiry samples).</summary>
    public List<StoreEntry> SampleExpired(long nowUnixMs, int max)
    {
        var found = new List<StoreEntry>();
        lock (_lock)
        {
            if (_high == 0)
            {
                return found;
            }

            var start = System.Random.Shared.Next(_high);
            var budget = Math.Min(_high, Math.Max(max * 20, 256));
            for (var i = 0; i < budget && found.Count < max; i++)
            {
                var entry = At((start + i) % _high);
                if (entry is not null && entry.IsExpired(nowUnixMs))
                {
                    found.Add(entry);
                }
            }
        }

        return found;
    }

    /// <summary>
    /// Appends the live entries at positions [<paramref name="cursor"/>, cursor + <paramref name="positions"/>)
    /// to <paramref name="output"/>; returns the next cursor, or 0 when the scan is complete.
    /// </summary>
    public int Scan(int cursor, int positions, List<StoreEntry> output)
    {
        lock (_lock)
        {
            var end = (int)Math.Min(_high, (long)cursor + positions);
            for (var i = cursor; i < end; i++)
            {
                if (At(i) is { } entry)
                {
                    output.Add(entry);
                }
            }

            return end >= _high ? 0 : end;
        }
    }

    /// <summary>How many entries' keys begin with <paramref name="prefix"/>, counted in place (no copy of the ring).</summary>
    public long CountPrefixed(ReadOnlySpan<byte> prefix)
    {
        lock (_lock)
        {
            long count = 0;
            for (var i = 0; i < _high; i++)
            {
                if (At(i) is { } entry && entry.KeySpan.StartsWith(prefix))
                {
                    count++;
                }
            }

            return count;
        }
    }

    /// <summary>A snapshot of every live entry.</summary>
    public List<StoreEntry> Snapshot()
    {
        lock (_lock)
        {
            var copy = new List<StoreEntry>(_count);
            for (var i = 0; i < _high; i++)
            {
                if (At(i) is { } entry)
                {
                    copy.Add(entry);
                }
            }

            return copy;
        }
    }

    private ref StoreEntry? At(int index) => ref _blocks[index >> BlockShift][index & (BlockSize - 1)];
}
