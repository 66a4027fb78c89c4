namespace Cache.Engine;

/// <summary>Settings that change while the store runs (Redis's <c>CONFIG SET maxmemory</c> and <c>maxmemory-policy</c>), and key versions for optimistic transactions.</summary>
public sealed partial class BlockStore
{
    private long _capacity;
    private int _policy;

    /// <summary>
    /// Sets the byte budget. A smaller budget than the bytes in use evicts at once under <see cref="AdmissionPolicy.Lru"/>
    /// and <see cref="AdmissionPolicy.Random"/> (as Redis does on its next command); under <see cref="AdmissionPolicy.Retain"/>
    /// nothing leaves and new entries are refused until enough do. Thread-safe.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The budget is not positive.</exception>
    public void Resize(long capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        Volatile.Write(ref _capacity, capacity);
        if (Policy != AdmissionPolicy.Retain)
        {
            // Bounded: entries held by other threads' stripes are skipped, and a budget still exceeded afterwards
            // is met by the evictions of later inserts.
            for (var attempt = 0; attempt < 1_000_000 && BytesUsed > capacity; attempt++)
            {
                if (!EvictOne(null, default, 0, keepSample: false))
                {
                    break;
                }
            }
        }

        // Memory committed ahead of need is for records the budget can hold: a smaller budget lets the excess go (after
        // the evictions, which may have dropped chunks; under the preallocation's lock, so that none of it comes back).
        lock (_preallocateGate)
        {
            _samples.TrimSpare(capacity - _samples.ChunkBytesHeld);
        }
    }

    /// <summary>
    /// Changes the admission policy for the inserts that follow; the entries stay, wherever they live, and an
    /// evicting policy may evict any of them from then on (samples included: the sample table evicts too).
    /// Under LRU, keys' ages are the last write or read seen while LRU was the policy. Thread-safe.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The policy is not defined.</exception>
    public void ChangePolicy(AdmissionPolicy policy)
    {
        if (!Enum.IsDefined(policy))
        {
            throw new ArgumentOutOfRangeException(nameof(policy), policy, "Policy must be Retain, Lru or Random.");
        }

        Volatile.Write(ref _policy, (int)policy);
    }

    /// <summary>
    /// The version of a key's present value: equal to a later call's result exactly when nothing wrote, removed,
    /// expired or re-expired the key in between (a write of the same bytes still counts). Counts no hit or miss.
    /// Thread-safe.
    /// </summary>
    public KeyVersion GetVersion(ReadOnlySpan<byte> key)
    {
        var hash = StoreKey.HashOf(key);
        if (_samples.TryFind(key, hash, out var record))
        {
            // A sample's record is appended anew on every write that is not in place, and its version counts the
            // in-place ones; a compaction that moves the record makes a watcher's EXEC fail, never pass wrongly.
            return new KeyVersion(record.Chunk, null, record.Offset, Volatile.Read(ref record.Version), 0);
        }

        var entry = Find(key, hash);
        if (entry is null)
        {
            return default;
        }

        // Data before Version: an in-place overwrite bumps Version, a replacement swaps Data.
        var data = entry.Data;
        return new KeyVersion(entry, data, 0, Volatile.Read(ref entry.Version), Volatile.Read(ref entry.ExpiresAtUnixMs));
    }

    /// <summary>
    /// Commits and touches memory for <paramref name="bytes"/> more bytes of records (rounded up to whole 4 MB chunks, but
    /// never more whole chunks than the budget can hold beyond those already held and committed), as memcached's <c>-L</c>: the
    /// samples written later land in memory the machine has already backed, and a machine that cannot provide it fails
    /// now rather than while the store fills (an <see cref="OutOfMemoryException"/>, or, on Linux, the kernel's
    /// out-of-memory killer ending the process). On a virtual machine
    /// that backs memory on first touch, fresh memory was written at 0.3-1.3 GB/s here against 9-10 GB/s once backed; an
    /// epoch that fills a cache pays that for every byte it adds.
    /// Blocks the caller for as long as the touching takes; keys with an expiration (kept in the general index) do not
    /// use this memory. Returns the bytes committed. Thread-safe.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bytes"/> is negative.</exception>
    public long Preallocate(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        lock (_preallocateGate)
        {
            var wanted = (bytes + SampleTable.ChunkBytes - 1) / SampleTable.ChunkBytes;
            var room = Math.Max(0, Capacity - _samples.CommittedBytes) / SampleTable.ChunkBytes;
            return _samples.Preallocate(Math.Min(wanted, room));
        }
    }

    /// <summary>Bytes of memory committed by <see cref="Preallocate"/> that no record uses yet.</summary>
    public long PreallocatedBytes => _samples.SpareBytes;
}
