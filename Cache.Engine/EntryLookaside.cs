using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Cache.Engine;

/// <summary>
/// A two-way set-associative table of live entries in front of the store's index (MemoryCache), read
/// without locks. A read that finds its key here touches the table, the entry and its bytes; through
/// MemoryCache it also walks a dictionary node and a cache entry, two more dependent cache misses on a
/// store too large for the CPU caches (measured on 100k keys of 1 KB, one thread, random order: a hit
/// copied out took 600 ns through MemoryCache, 520 ns through this table). MemoryCache stays the index of record: every insert,
/// removal and eviction goes through it, and a key missing here is looked up there.
/// </summary>
/// <remarks>
/// Thread-safe. An entry is remembered when it is inserted and when a read finds it in the index; it is
/// forgotten when it leaves the store. A slot may briefly hold an entry that has just been removed:
/// readers check <see cref="StoreEntry.Removed"/>, and <see cref="Remember"/> takes back what it stored
/// if the entry was removed meanwhile, so a dead entry (and its bytes) is not kept alive by the table.
/// The table grows with the store (two to four slots per entry) and shrinks after a flush, starting
/// afresh each time: it is a cache of the index, so losing its contents costs only lookups through
/// MemoryCache until they are remembered again.
/// </remarks>
internal sealed class EntryLookaside
{
    private const int InitialSlots = 4096;

    /// <summary>The table stops growing here (32M slots, 256 MB): past it, more keys simply share slots.</summary>
    private const int MaxSlots = 1 << 25;

    private StoreEntry?[] _slots = new StoreEntry?[InitialSlots];
    private int _growing;

    /// <summary>True where the CPU has a prefetch instruction that .NET exposes (x86 and x64).</summary>
    public static bool CanPrefetch => Sse.IsSupported;

    /// <summary>The slots now, for tests.</summary>
    internal int SlotCount => Volatile.Read(ref _slots).Length;

    /// <summary>The live entry for <paramref name="key"/> if the table holds it; null means "ask the index".</summary>
    public StoreEntry? Find(ReadOnlySpan<byte> key, int hash)
    {
        var slots = Volatile.Read(ref _slots);

        // The two ways of a set are adjacent, so that both lie in one cache line.
        var first = hash & (slots.Length - 2);
        var entry = Volatile.Read(ref slots[first]);
        if (Matches(entry, key, hash))
        {
            return entry;
        }

        entry = Volatile.Read(ref slots[first + 1]);
        return Matches(entry, key, hash) ? entry : null;
    }

    /// <summary>Makes <paramref name="entry"/> findable here. Any thread; an entry that is being removed meanwhile is taken back out.</summary>
    public void Remember(StoreEntry entry)
    {
        var slots = Volatile.Read(ref _slots);
        var first = entry.Hash & (slots.Length - 2);
        var resident = Volatile.Read(ref slots[first]);
        int index;
        if (resident is null || resident == entry || resident.Removed)
        {
            index = first;
        }
        else
        {
            // The set is full: the newer entry takes the first way, the one it displaces the second.
            var other = Volatile.Read(ref slots[first + 1]);
            if (other == entry)
            {
                return;
            }

            if (Interlocked.CompareExchange(ref slots[first + 1], resident, other) == other && Volatile.Read(ref resident.Removed))
            {
                // Moved while it was being removed (see below).
                Interlocked.CompareExchange(ref slots[first + 1], null, resident);
            }

            index = first;
        }

        // A full fence between storing the entry and reading its Removed flag pairs with Forget, which
        // sets the flag before it clears the slot: one of the two sees the other's write.
        Interlocked.Exchange(ref slots[index], entry);
        if (Volatile.Read(ref entry.Removed))
        {
            Interlocked.CompareExchange(ref slots[index], null, entry);
        }
    }

    /// <summary>Removes <paramref name="entry"/>, whose <see cref="StoreEntry.Removed"/> is already set, from the table.</summary>
    public void Forget(StoreEntry entry)
    {
        // The flag must be visible before the table is read: otherwise a Remember on a table swapped in
        // meanwhile (Fit) could miss the flag while this clears the old table, and the dead entry (and its
        // bytes) would stay in the new one. A volatile write then a volatile read are not ordered.
        Interlocked.MemoryBarrier();
        var slots = Volatile.Read(ref _slots);
        var first = entry.Hash & (slots.Length - 2);
        Interlocked.CompareExchange(ref slots[first], null, entry);
        Interlocked.CompareExchange(ref slots[first + 1], null, entry);
    }

    /// <summary>
    /// Grows the table to two slots per entry when <paramref name="count"/> entries outgrow it. Any thread;
    /// the new table is allocated on the thread pool, not on the caller's: a table for millions of entries
    /// is tens of megabytes to zero, and the caller is an insert, often on the node's one event thread.
    /// Until it is swapped in, the present table serves (more lookups fall back to the index).
    /// </summary>
    public void Fit(long count)
    {
        var slots = Volatile.Read(ref _slots);
        if (count * 2 <= slots.Length || slots.Length >= MaxSlots)
        {
            return;
        }

        // One thread grows it; the others go on with the present table rather than each allocate a large one.
        if (Interlocked.CompareExchange(ref _growing, 1, 0) != 0)
        {
            return;
        }

        var size = (int)Math.Min(MaxSlots, System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)count * 2));
        ThreadPool.UnsafeQueueUserWorkItem(static state => state.Table.Grow(state.Slots, state.Size), (Table: this, Slots: slots, Size: size), preferLocal: false);
    }

    /// <summary>Grows the table now, on the caller's thread, to fit <paramref name="count"/> entries (tests).</summary>
    internal void FitNow(long count)
    {
        var spinner = default(SpinWait);
        while (Interlocked.CompareExchange(ref _growing, 1, 0) != 0)
        {
            spinner.SpinOnce();
        }

        var slots = Volatile.Read(ref _slots);
        var size = (int)Math.Min(MaxSlots, System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)Math.Max(count, 1) * 2));
        if (size > slots.Length)
        {
            Grow(slots, size);
        }
        else
        {
            Volatile.Write(ref _growing, 0);
        }
    }

    private void Grow(StoreEntry?[] slots, int size)
    {
        try
        {
            Interlocked.CompareExchange(ref _slots, new StoreEntry?[size], slots);
        }
        catch (OutOfMemoryException)
        {
            // The table is a cache of the index: without room to grow it, lookups just fall back more often.
            // The insert that called this has already been published and must not fail now.
        }
        finally
        {
            Volatile.Write(ref _growing, 0);
        }
    }

    /// <summary>
    /// Swaps a table more than four times larger than <paramref name="count"/> entries need (after a
    /// flush, say) for an empty one of the right size, so that its memory goes back. Any thread.
    /// </summary>
    public void Shrink(long count)
    {
        var slots = Volatile.Read(ref _slots);
        var size = (int)Math.Clamp(System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)count * 2), InitialSlots, MaxSlots);
        if ((long)size * 4 < slots.Length)
        {
            Interlocked.CompareExchange(ref _slots, new StoreEntry?[size], slots);
        }
    }

    /// <summary>
    /// Asks the CPU to fetch, for each key hash, its set of the table and then the bytes of the entry
    /// found there, so that a batch's cache misses overlap instead of following one another. Reads
    /// nothing for the caller. A no-op where the CPU has no prefetch instruction.
    /// </summary>
    public void Prefetch(ReadOnlySpan<int> hashes)
    {
        if (!CanPrefetch)
        {
            return;
        }

        var slots = Volatile.Read(ref _slots);
        var mask = slots.Length - 2;
        ref var start = ref MemoryMarshal.GetArrayDataReference(slots);
        foreach (var hash in hashes)
        {
            Hint(ref Unsafe.As<StoreEntry?, byte>(ref Unsafe.Add(ref start, hash & mask)));
        }

        // The sets are on their way; the entries' loads below are independent, so they overlap too.
        foreach (var hash in hashes)
        {
            var first = hash & mask;
            var entry = slots[first];
            if (entry is null || entry.Hash != hash)
            {
                entry = slots[first + 1];
                if (entry is null || entry.Hash != hash)
                {
                    continue;
                }
            }

            // The key and the start of the value; the hardware's stream prefetcher follows the rest.
            var bytes = entry.Data;
            ref var data = ref MemoryMarshal.GetArrayDataReference(bytes);
            Hint(ref data);
            if (bytes.Length > 64)
            {
                Hint(ref Unsafe.Add(ref data, 64));
            }
        }
    }

    /// <summary>A prefetch hint. The address is not dereferenced, so a stale one (the GC moved the object meanwhile) is harmless.</summary>
    private static unsafe void Hint(ref byte address) => Sse.Prefetch0(Unsafe.AsPointer(ref address));

    private static bool Matches(StoreEntry? entry, ReadOnlySpan<byte> key, int hash) =>
        entry is not null
        && entry.Hash == hash
        && !Volatile.Read(ref entry.Removed)
        && entry.KeySpan.SequenceEqual(key);
}
