using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Cache.Engine;

/// <summary>
/// The store of keys without an expiration, under every policy: every dataset sample, and most of a general
/// cache's keys. Built so that its cost per entry
/// does not grow with the entries, because the general index (<see cref="Microsoft.Extensions.Caching.Memory.MemoryCache"/>)
/// did not meet that: filling 6.2M keys of 100 B through it stalled the node's event thread for 4.8 s
/// (redis-server: 28 ms) and took 2.5x Redis's RSS. Its per-entry objects (the cache entry, its
/// dictionary node, our entry, a pinned array per value: four GC objects) were all promoted by every
/// ephemeral collection, because in a fill everything survives, and its dictionary doubled on the
/// inserting thread, copying the whole index.
/// </summary>
/// <remarks>
/// <para><b>Bytes.</b> Records (header, key, value; <see cref="SampleRecord"/>) are appended to 4 MB
/// chunks: pinned arrays (the GC never moves or scans their contents), one GC object per 4 MB, whatever
/// the entry count. A record larger than 1 MB gets a chunk of its own. Chunks are append-only: a record's
/// bytes are never reused while its chunk lives, so a view handed out (<see cref="SampleRecord.ShareValue"/>)
/// stays valid and unchanged, and keeps the chunk alive through the GC after the table has let it go. A
/// removed or replaced record leaves dead bytes; a chunk whose records are all dead is dropped, and a chunk
/// less than half live is compacted off the caller's thread (<see cref="CompactPending"/>).</para>
/// <para><b>Index.</b> 1024 segments (a segment lies within one of the store's 256 stripe locks), each an
/// open-addressed table of 16-byte slots (hash, chunk id, offset, last-used tick): no object per entry. A segment grows by
/// rehashing itself alone, under its stripe, so the largest step is 1/1024 of the index (20M entries: about
/// 20k slots, tens of microseconds), never the whole of it; Redis rehashes incrementally for the same reason.
/// Segments are read without locks: a per-segment sequence number (odd while a writer changes the
/// segment) tells a reader to retry.</para>
/// <para><b>Charge.</b> An entry is charged its record's bytes plus <see cref="IndexChargePerEntry"/>: a
/// slot of 16 bytes at the lowest load a segment is left at, 5/16: 52 bytes. A segment is resized to the
/// smallest power of two that holds its entries under 3/4 (so at 3/8 or more), grows when its used slots
/// (tombstones included) pass 3/4, and shrinks once removals or evictions take it under 5/16; its load
/// stays within [5/16, 3/4]. (Sized for a load of 3/8 or less, as before, a segment cleared of its
/// tombstones could be left at 3/16: an LRU store at its budget measured 51 bytes of slots per entry
/// against a charge of 43.)</para>
/// <para><b>Eviction.</b> The table keeps a clock (<see cref="Tick"/>, advanced by every insert); a slot
/// holds the tick of its key's last write and, under LRU, its last read (one plain store, lock-free, only
/// when the tick moved). <see cref="TryPickVictim"/> compares a few slots at random and names the oldest:
/// no list to maintain on a hit, no step that grows with the table, as Redis's approximated LRU. An evicted
/// record is dead bytes like a removed one: a chunk is dropped once all dead and compacted under half live,
/// so the bytes held stay within about twice the live ones whatever the eviction order.</para>
/// <para>Thread-safety: lookups take no lock. Every change to a key's segment is made under that key's
/// stripe lock (the caller's); chunk allocation takes the table's own short lock.</para>
/// </remarks>
internal sealed class SampleTable
{
    public const int SegmentCount = 1024;

    /// <summary>Index bytes charged per entry: a 16-byte slot at the lowest load a segment is left at, 5/16 (see the remarks).</summary>
    public const int IndexChargePerEntry = 52;

    /// <summary>Bytes of one index slot (hash, chunk id, offset, last-used tick).</summary>
    public const int SlotBytes = 16;

    public const int ChunkBytes = 4 << 20;

    /// <summary>Tables of at most this many entries pick eviction victims by looking at every entry (see <see cref="TryPickVictim"/>).</summary>
    public const int ExactBelow = 128;

    private const int OwnChunkAbove = 1 << 20;
    private const int MinSlots = 8;

    private static readonly bool StrongLoadOrder =
        RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86;

    private readonly Segment[] _segments = new Segment[SegmentCount];
    private readonly Lock _chunkGate = new();
    private readonly Stack<int> _freeIds = new();
    private readonly Queue<int> _sparse = new();

    // Chunks committed ahead of need (Preallocate), taken before a new one is allocated; guarded by _chunkGate.
    private readonly Stack<byte[]> _spare = new();

    // Chunk id -> bytes; id 0 means "empty slot", -1 "removed". Grown by copying under _chunkGate (one
    // reference per 4 MB: 16 GB is 4096 of them), published with a volatile write before any slot names a new id.
    private byte[]?[] _chunks = new byte[]?[16];
    private long[] _live = new long[16];
    private int[] _fill = new int[16];
    private bool[] _queued = new bool[16];
    private int _nextId = 1;
    private int _head;
    private int _headOffset;
    private long _count;
    private long _ticks;
    private long _chunkBytesTotal;
    private long _spareBytes;
    private long _droppedSinceCollect;
    private int _compacting;
    private int _sparsePending;

    public SampleTable()
    {
        for (var i = 0; i < _segments.Length; i++)
        {
            _segments[i] = new Segment();
        }
    }

    /// <summary>Entries now.</summary>
    public long Count => Volatile.Read(ref _count);

    /// <summary>Bytes of chunks the table holds now (live and dead records, and the head's unused tail).</summary>
    public long ChunkBytesHeld => Volatile.Read(ref _chunkBytesTotal);

    /// <summary>Bytes of chunks committed ahead of need (<see cref="Preallocate"/>) and not yet holding records.</summary>
    public long SpareBytes => Volatile.Read(ref _spareBytes);

    /// <summary>Bytes of chunks held and spare, read together (a chunk taken from the spares moves from one to the other).</summary>
    public long CommittedBytes
    {
        get
        {
            lock (_chunkGate)
            {
                return _chunkBytesTotal + _spareBytes;
            }
        }
    }

    /// <summary>
    /// Allocates <paramref name="chunks"/> chunks and touches every page of them, so that the records written into them
    /// later land in memory the machine has already backed; they are taken before any new chunk is allocated. Returns the
    /// bytes added. Runs on the caller's thread (the touching is the point); thread-safe.
    /// </summary>
    public long Preallocate(long chunks)
    {
        long added = 0;
        var page = Environment.SystemPageSize;
        for (long n = 0; n < chunks; n++)
        {
            var chunk = GC.AllocateUninitializedArray<byte>(ChunkBytes, pinned: true);
            HugePages.Advise(chunk);

            // One write per page, plus the last byte: the array's data does not start on a page boundary, so it ends in
            // a page the stride misses. A nonzero byte: chunks touched with zeros were found unmapped again about 15 s later
            // (perf record of the mesh epochs: whole huge pages faulted in by the store's writes into them), chunks
            // touched with ones were not. What takes cold all-zero pages back on this machine was not found (not its
            // DAMON scheme, which leaves anonymous memory alone, nor the kernel's shrinker of underused huge pages).
            for (var i = 0; i < chunk.Length; i += page)
            {
                chunk[i] = 1;
            }

            chunk[^1] = 1;

            lock (_chunkGate)
            {
                _spare.Push(chunk);
                _spareBytes += ChunkBytes;
            }

            added += ChunkBytes;
        }

        return added;
    }

    /// <summary>Lets go of spare chunks until at most <paramref name="bytes"/> of them remain (a store made smaller).</summary>
    public void TrimSpare(long bytes)
    {
        lock (_chunkGate)
        {
            while (_spareBytes > Math.Max(0, bytes) && _spare.TryPop(out _))
            {
                _spareBytes -= ChunkBytes;
            }
        }
    }

    /// <summary>Slots of every segment now (for the index's real size).</summary>
    public long SlotCount
    {
        get
        {
            long total = 0;
            foreach (var segment in _segments)
            {
                total += Volatile.Read(ref segment.Slots).Length;
            }

            return total;
        }
    }

    /// <summary>True when chunks wait for compaction (read without the lock: a hint).</summary>
    public bool HasSparseChunks => Volatile.Read(ref _sparsePending) != 0;

    /// <summary>True while a compaction pass runs.</summary>
    public bool IsCompacting => Volatile.Read(ref _compacting) != 0;

    /// <summary>The charge of an entry of these lengths.</summary>
    public static long ChargeFor(int keyLength, int valueLength) => (long)SampleRecord.SizeOf(keyLength, valueLength) + IndexChargePerEntry;

    /// <summary>The segment of a hash; its stripe is <c>hash &amp; 255</c>, which the segment's index shares.</summary>
    public static int SegmentOf(int hash) => hash & (SegmentCount - 1);

    /// <summary>The table's clock: advanced by every insert. A slot's <c>Used</c> tick against it is the key's age.</summary>
    public uint Tick => (uint)Volatile.Read(ref _ticks);

    /// <summary>
    /// Finds a key without a lock. The record found may be replaced or removed right after; its bytes stay
    /// readable. With <paramref name="touch"/>, a hit marks the key used now (for LRU eviction): one plain
    /// store into its slot, only when the tick changed, so that a hot key's cache line is not dirtied on
    /// every read. A touch that races a writer may be lost: the age is an approximation, as Redis's is.
    /// </summary>
    public bool TryFind(ReadOnlySpan<byte> key, int hash, out SampleRecord record, bool touch = false)
    {
        var segment = _segments[SegmentOf(hash)];
        var spinner = default(SpinWait);
        while (true)
        {
            var version = Volatile.Read(ref segment.Version);
            if ((version & 1) != 0)
            {
                spinner.SpinOnce();
                continue;
            }

            var slots = Volatile.Read(ref segment.Slots);
            var found = Probe(slots, key, hash, out record, out var index);
            if (!StrongLoadOrder)
            {
                Interlocked.MemoryBarrier();
            }

            if (Volatile.Read(ref segment.Version) == version && (!found || record.IsWellFormed))
            {
                if (found && touch)
                {
                    // Only the tick is written: a writer owns Hash, Chunk and Offset, and a lost tick costs nothing but accuracy.
                    ref var used = ref slots[index].Used;
                    var now = Tick;
                    if (used != now)
                    {
                        used = now;
                    }
                }

                return found;
            }
        }
    }

    /// <summary>Finds a key; caller holds the key's stripe lock (so the segment does not change).</summary>
    public bool TryFindLocked(ReadOnlySpan<byte> key, int hash, out SampleRecord record) =>
        Probe(_segments[SegmentOf(hash)].Slots, key, hash, out record, out _);

    /// <summary>
    /// Inserts or replaces a key's value; caller holds the key's stripe lock. A value of the same length
    /// as the present one is overwritten in place when no view of it was handed out. Returns the record's
    /// bytes before (0 when the key was new) and after, for the caller's budget.
    /// </summary>
    public void SetLocked(ReadOnlySpan<byte> key, int hash, ReadOnlySpan<byte> value, out int bytesBefore, out int bytesAfter)
    {
        var segment = _segments[SegmentOf(hash)];
        if (Probe(segment.Slots, key, hash, out var old, out var index))
        {
            bytesBefore = old.Bytes;
            // A write is a use: the key is as young as the newest insert.
            segment.Slots[index].Used = Tick;
            if (old.ValueLength == value.Length && old.TryOverwriteLocked(value))
            {
                bytesAfter = bytesBefore;
                return;
            }

            var (chunk, offset, record) = Append(key, value);
            bytesAfter = record.Bytes;
            ref var slot = ref segment.Slots[index];
            var oldChunk = slot.Chunk;
            BeginWrite(segment);
            slot.Chunk = chunk;
            slot.Offset = offset;
            EndWrite(segment);
            Release(oldChunk, bytesBefore);
            return;
        }

        bytesBefore = 0;
        var (newChunk, newOffset, added) = Append(key, value);
        bytesAfter = added.Bytes;
        if ((segment.Used + 1) * 4L > segment.Slots.Length * 3L)
        {
            Resize(segment, segment.Live + 1);
        }

        var slots = segment.Slots;
        var mask = slots.Length - 1;
        var i = Position(hash, mask);
        while (slots[i].Chunk > 0)
        {
            i = (i + 1) & mask;
        }

        BeginWrite(segment);
        if (slots[i].Chunk == 0)
        {
            segment.Used++;
        }

        slots[i] = new Slot { Hash = hash, Chunk = newChunk, Offset = newOffset, Used = (uint)Interlocked.Increment(ref _ticks) };
        segment.Live++;
        EndWrite(segment);
        Interlocked.Increment(ref _count);
    }

    /// <summary>Removes a key; caller holds its stripe lock. Returns the record's bytes, 0 when absent.</summary>
    public int RemoveLocked(ReadOnlySpan<byte> key, int hash)
    {
        var segment = _segments[SegmentOf(hash)];
        if (!Probe(segment.Slots, key, hash, out var record, out var index))
        {
            return 0;
        }

        var bytes = record.Bytes;
        RemoveAt(segment, index, bytes);
        return bytes;
    }

    /// <summary>
    /// Removes every entry of a segment whose key starts with <paramref name="prefix"/>, calling
    /// <paramref name="removed"/> with each key and record size first. Caller holds the segment's stripe lock.
    /// </summary>
    public void RemovePrefixedLocked<TState>(int segmentIndex, ReadOnlySpan<byte> prefix, TState state, Action<TState, SampleRecord> removed)
    {
        var segment = _segments[segmentIndex];
        var slots = segment.Slots;
        var chunks = _chunks;
        for (var i = 0; i < slots.Length; i++)
        {
            if (slots[i].Chunk > 0)
            {
                var record = new SampleRecord(chunks[slots[i].Chunk]!, slots[i].Offset);
                if (record.KeySpan.StartsWith(prefix))
                {
                    removed(state, record);
                    RemoveAt(segment, i, record.Bytes, shrink: false);
                }
            }
        }

        ShrinkIfSparse(segment);
    }

    /// <summary>How many keys of a segment start with <paramref name="prefix"/>; caller holds the segment's stripe lock.</summary>
    public long CountPrefixedLocked(int segmentIndex, ReadOnlySpan<byte> prefix)
    {
        long count = 0;
        var slots = _segments[segmentIndex].Slots;
        var chunks = _chunks;
        foreach (var slot in slots)
        {
            if (slot.Chunk > 0 && new SampleRecord(chunks[slot.Chunk]!, slot.Offset).KeySpan.StartsWith(prefix))
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>Appends copies of a segment's keys; caller holds the segment's stripe lock.</summary>
    public void CopyKeysLocked(int segmentIndex, List<StoreKey> keys)
    {
        var slots = _segments[segmentIndex].Slots;
        var chunks = _chunks;
        foreach (var slot in slots)
        {
            if (slot.Chunk > 0)
            {
                keys.Add(StoreKey.Copy(new SampleRecord(chunks[slot.Chunk]!, slot.Offset).KeySpan));
            }
        }
    }

    /// <summary>The slots of a segment (a scan's cost), without a lock.</summary>
    public int SlotsOf(int segmentIndex) => Volatile.Read(ref _segments[segmentIndex].Slots).Length;

    /// <summary>Entries in a segment, without a lock.</summary>
    public int LiveIn(int segmentIndex) => Volatile.Read(ref _segments[segmentIndex].Live);

    /// <summary>A copy of a key of the segment at or after a random slot, or null; caller holds the segment's stripe lock.</summary>
    public StoreKey? KeyNearLocked(int segmentIndex, int start)
    {
        var slots = _segments[segmentIndex].Slots;
        for (var n = 0; n < slots.Length; n++)
        {
            var slot = slots[(start + n) & (slots.Length - 1)];
            if (slot.Chunk > 0)
            {
                return StoreKey.Copy(new SampleRecord(_chunks[slot.Chunk]!, slot.Offset).KeySpan);
            }
        }

        return null;
    }

    /// <summary>
    /// Picks a key to evict, without a lock: when <paramref name="oldest"/>, the least recently used of
    /// <paramref name="samples"/> live slots that follow a random position (Redis's approximated LRU samples
    /// five keys the same way; a run of neighbouring slots costs one or two cache misses, and neighbours in a
    /// hash table are keys at random), else the first live slot found there (random eviction). A table of at
    /// most <see cref="ExactBelow"/> entries is searched whole instead: so few samples would miss its oldest
    /// key too often. A key equal to <paramref name="exclude"/> (hash <paramref name="excludeHash"/>, when
    /// <paramref name="excluding"/>) is never picked. The record is a view of the candidate's bytes and
    /// <paramref name="hash"/> is computed from them, so the pair is consistent even when a slot was read
    /// while a writer changed it; the caller confirms the key under its stripe.
    /// </summary>
    public bool TryPickVictim(Random random, int samples, bool oldest, ReadOnlySpan<byte> exclude, int excludeHash, bool excluding, out SampleRecord victim, out int hash)
    {
        // A slot read while a compaction moves its record may pair its age with another record's bytes (the
        // new chunk, the old offset): the key's hash, checked against the slot's, tells, and the pick is redone.
        for (var attempt = 0; attempt < 4; attempt++)
        {
            if (!TryPickOnce(random, samples, oldest, exclude, excludeHash, excluding, out victim, out var slotHash))
            {
                hash = 0;
                return false;
            }

            hash = StoreKey.HashOf(victim.KeySpan);
            if (hash == slotHash)
            {
                return true;
            }
        }

        victim = default;
        hash = 0;
        return false;
    }

    private bool TryPickOnce(Random random, int samples, bool oldest, ReadOnlySpan<byte> exclude, int excludeHash, bool excluding, out SampleRecord victim, out int slotHash)
    {
        victim = default;
        slotHash = 0;
        var count = Count;
        if (count == 0)
        {
            return false;
        }

        var whole = count <= ExactBelow;
        var wanted = whole ? int.MaxValue : oldest ? samples : 1;
        var start = whole ? 0 : random.Next(SegmentCount);
        var chunks = Volatile.Read(ref _chunks);
        var now = Tick;
        var found = false;
        uint bestAge = 0;
        var seen = 0;
        for (var n = 0; n < SegmentCount && seen < wanted; n++)
        {
            var segment = _segments[(start + n) & (SegmentCount - 1)];
            if (Volatile.Read(ref segment.Live) == 0)
            {
                continue;
            }

            var slots = Volatile.Read(ref segment.Slots);
            var mask = slots.Length - 1;
            var at = whole ? 0 : random.Next();
            for (var k = 0; k <= mask && seen < wanted; k++)
            {
                var slot = slots[(at + k) & mask];
                if (slot.Chunk <= 0 || slot.Chunk >= chunks.Length || chunks[slot.Chunk] is not { } chunk
                    || (uint)slot.Offset > (uint)(chunk.Length - SampleRecord.HeaderBytes))
                {
                    continue;
                }

                var record = new SampleRecord(chunk, slot.Offset);
                if (!record.IsWellFormed || (excluding && slot.Hash == excludeHash && record.KeySpan.SequenceEqual(exclude)))
                {
                    continue;
                }

                seen++;
                var age = now - slot.Used;
                if (!found || age > bestAge)
                {
                    found = true;
                    bestAge = age;
                    victim = record;
                    slotHash = slot.Hash;
                }
            }
        }

        return found;
    }

    /// <summary>Prefetch hints for the segments of these hashes, then for the records found there.</summary>
    public void Prefetch(ReadOnlySpan<int> hashes)
    {
        if (!Sse.IsSupported)
        {
            return;
        }

        foreach (var hash in hashes)
        {
            var slots = _segments[SegmentOf(hash)].Slots;
            Hint(ref Unsafe.As<Slot, byte>(ref slots[Position(hash, slots.Length - 1)]));
        }

        var chunks = Volatile.Read(ref _chunks);
        foreach (var hash in hashes)
        {
            var slots = _segments[SegmentOf(hash)].Slots;
            var slot = slots[Position(hash, slots.Length - 1)];
            if (slot.Hash == hash && slot.Chunk > 0 && slot.Chunk < chunks.Length && chunks[slot.Chunk] is { } chunk && (uint)slot.Offset < (uint)chunk.Length)
            {
                ref var start = ref chunk[slot.Offset];
                Hint(ref start);
                if (slot.Offset + 64 < chunk.Length)
                {
                    Hint(ref Unsafe.Add(ref start, 64));
                }
            }
        }
    }

    /// <summary>
    /// Compacts chunks that fell under half live: their live records move to the head chunk, one at a
    /// time under the record's stripe lock (<paramref name="stripeOf"/>), and the chunk is dropped. Views
    /// of the old bytes stay valid (the GC keeps the old array alive for them). Runs on the caller's
    /// thread; one caller at a time; returns the chunks compacted.
    /// </summary>
    public int CompactPending(Func<int, Lock> stripeOf)
    {
        if (Interlocked.CompareExchange(ref _compacting, 1, 0) != 0)
        {
            return 0;
        }

        try
        {
            var compacted = 0;
            while (true)
            {
                int id;
                byte[]? bytes;
                int fill;
                lock (_chunkGate)
                {
                    if (!_sparse.TryDequeue(out id))
                    {
                        Volatile.Write(ref _sparsePending, 0);
                        return compacted;
                    }

                    _queued[id] = false;
                    bytes = _chunks[id];
                    fill = _fill[id];

                    // The id may have been dropped and reused since it was queued.
                    if (bytes is null || id == _head || bytes.Length != ChunkBytes || _live[id] * 2 >= ChunkBytes)
                    {
                        continue;
                    }
                }

                for (var offset = 0; offset < fill;)
                {
                    var record = new SampleRecord(bytes, offset);
                    var size = record.Bytes;
                    var key = record.KeySpan;
                    var hash = StoreKey.HashOf(key);
                    lock (stripeOf(hash))
                    {
                        var segment = _segments[SegmentOf(hash)];
                        if (Probe(segment.Slots, key, hash, out var current, out var index) && current.Chunk == bytes && current.Offset == offset)
                        {
                            var (chunk, newOffset, _) = Append(key, record.ValueSpan);
                            BeginWrite(segment);
                            segment.Slots[index].Chunk = chunk;
                            segment.Slots[index].Offset = newOffset;
                            EndWrite(segment);
                            Release(id, size);
                        }
                    }

                    offset += size;
                }

                compacted++;
            }
        }
        finally
        {
            Volatile.Write(ref _compacting, 0);
        }
    }

    private bool Probe(Slot[] slots, ReadOnlySpan<byte> key, int hash, out SampleRecord record, out int index)
    {
        var mask = slots.Length - 1;
        var i = Position(hash, mask);
        for (var probes = 0; probes <= mask; probes++)
        {
            var slot = slots[i];
            if (slot.Chunk == 0)
            {
                break;
            }

            if (slot.Chunk > 0 && slot.Hash == hash)
            {
                // Read after the slot: a chunk id a slot names was published before the slot was.
                var chunks = Volatile.Read(ref _chunks);
                if ((uint)slot.Chunk < (uint)chunks.Length && chunks[slot.Chunk] is { } chunk && SampleRecord.KeyMatches(chunk, slot.Offset, key))
                {
                    record = new SampleRecord(chunk, slot.Offset);
                    index = i;
                    return true;
                }
            }

            i = (i + 1) & mask;
        }

        record = default;
        index = -1;
        return false;
    }

    private void RemoveAt(Segment segment, int index, int bytes, bool shrink = true)
    {
        ref var slot = ref segment.Slots[index];
        var chunk = slot.Chunk;
        BeginWrite(segment);
        slot.Chunk = -1;
        segment.Live--;
        EndWrite(segment);
        Interlocked.Decrement(ref _count);
        Release(chunk, bytes);
        if (shrink)
        {
            ShrinkIfSparse(segment);
        }
    }

    private static void ShrinkIfSparse(Segment segment)
    {
        if (segment.Slots.Length > MinSlots && segment.Live * 16L < segment.Slots.Length * 5L)
        {
            Resize(segment, segment.Live);
        }
    }

    /// <summary>Rehashes one segment into the smallest table that holds <paramref name="live"/> entries under a load of 3/4 (so at 3/8 or more). Caller holds its stripe.</summary>
    private static void Resize(Segment segment, int live)
    {
        var size = (int)Math.Max(MinSlots, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)((live * 4L / 3) + 1)));
        var old = segment.Slots;
        var slots = NewSlots(size);
        var mask = size - 1;
        foreach (var slot in old)
        {
            if (slot.Chunk > 0)
            {
                var i = Position(slot.Hash, mask);
                while (slots[i].Chunk != 0)
                {
                    i = (i + 1) & mask;
                }

                slots[i] = slot;
            }
        }

        // Readers on the old array still see a whole, correct table; the version bump makes them look again.
        BeginWrite(segment);
        segment.Slots = slots;
        segment.Used = segment.Live;
        EndWrite(segment);
    }

    private (int Chunk, int Offset, SampleRecord Record) Append(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        var size = SampleRecord.SizeOf(key.Length, value.Length);
        int id;
        int offset;
        byte[] bytes;
        if (size > OwnChunkAbove)
        {
            // A chunk of its own, written outside the lock: no one else reads it before the slot names it.
            lock (_chunkGate)
            {
                id = NewChunkLocked(size);
                _live[id] = size;
                bytes = _chunks[id]!;
            }

            return (id, 0, SampleRecord.Write(bytes, 0, key, value));
        }

        // A shared chunk's records are written under the lock, so that compaction, which walks a chunk
        // record by record up to its fill mark, never meets one that is half written.
        lock (_chunkGate)
        {
            {
                if (_head == 0 || _headOffset + size > ChunkBytes)
                {
                    var previous = _head;
                    _head = NewChunkLocked(ChunkBytes);
                    _headOffset = 0;
                    if (previous != 0)
                    {
                        RetireLocked(previous);
                    }
                }

                id = _head;
                offset = _headOffset;
                _headOffset += size;
                _fill[id] = _headOffset;
            }

            _live[id] += size;
            bytes = _chunks[id]!;
            return (id, offset, SampleRecord.Write(bytes, offset, key, value));
        }
    }

    private int NewChunkLocked(int size)
    {
        byte[] bytes;
        if (size == ChunkBytes && _spare.TryPop(out var spare))
        {
            bytes = spare;
            _spareBytes -= ChunkBytes;
        }
        else
        {
            bytes = GC.AllocateUninitializedArray<byte>(size, pinned: true);

            // Before the first record is written: untouched pages can still become huge pages (see HugePages).
            HugePages.Advise(bytes);
        }

        if (!_freeIds.TryPop(out var id))
        {
            id = _nextId++;
            if (id == _chunks.Length)
            {
                var grown = _chunks.Length * 2;
                var chunks = new byte[]?[grown];
                _chunks.CopyTo(chunks, 0);
                Array.Resize(ref _live, grown);
                Array.Resize(ref _fill, grown);
                Array.Resize(ref _queued, grown);
                Volatile.Write(ref _chunks, chunks);
            }
        }

        _live[id] = 0;
        _fill[id] = size;
        Volatile.Write(ref _chunks[id], bytes);
        _chunkBytesTotal += size;
        return id;
    }

    /// <summary>Gives a record's bytes back to its chunk: an all-dead chunk is dropped, a mostly dead one queued for compaction.</summary>
    private void Release(int id, int bytes)
    {
        lock (_chunkGate)
        {
            _live[id] -= bytes;
            if (id != _head)
            {
                RetireLocked(id);
            }
        }
    }

    private void RetireLocked(int id)
    {
        if (_live[id] == 0)
        {
            var length = _chunks[id]!.Length;
            _chunkBytesTotal -= length;
            Volatile.Write(ref _chunks[id], null);
            CollectDroppedLocked(length);
            _freeIds.Push(id);
            _queued[id] = false;
        }
        else if (_live[id] * 2 < ChunkBytes && _chunks[id]!.Length == ChunkBytes && !_queued[id])
        {
            _queued[id] = true;
            _sparse.Enqueue(id);
            Volatile.Write(ref _sparsePending, 1);
        }
    }

    /// <summary>
    /// Counts a dropped chunk's bytes and, once they reach a quarter of the bytes held (at least 32 MB) since
    /// the last time, asks for a background collection on the thread pool. A dropped chunk is garbage on the
    /// pinned heap, which only a full (gen2) collection frees; a fill never asks for one, but a store that
    /// evicts all the time drops a chunk every few megabytes written, and without this they piled up to
    /// several times the budget (128 MB of LRU budget, 3M writes: 460 MB RSS). The collection is concurrent
    /// (background GC): it marks the managed heap, which holds a few thousand objects (the segments'
    /// arrays, the chunks), beside the running threads.
    /// </summary>
    private void CollectDroppedLocked(int bytes)
    {
        _droppedSinceCollect += bytes;
        if (_droppedSinceCollect >= Math.Max(32L << 20, _chunkBytesTotal / 4))
        {
            _droppedSinceCollect = 0;
            ThreadPool.UnsafeQueueUserWorkItem(static _ => GC.Collect(2, GCCollectionMode.Forced, blocking: false), null);
        }
    }

    // A full fence after the odd number: the slot writes that follow must not become visible before it.
    private static void BeginWrite(Segment segment) => Interlocked.Increment(ref segment.Version);

    private static void EndWrite(Segment segment) => Volatile.Write(ref segment.Version, segment.Version + 1);

    /// <summary>A cleared slot array; a large one advised for huge pages before it is cleared (its first touch).</summary>
    private static unsafe Slot[] NewSlots(int size)
    {
        if (!HugePages.Applies((long)size * sizeof(Slot)))
        {
            return new Slot[size];
        }

        // On the large object heap (over 85 KB), which is compacted only when told to: the advised pages stay the array's.
        var slots = GC.AllocateUninitializedArray<Slot>(size);
        HugePages.Advise(slots);
        Array.Clear(slots);
        return slots;
    }

    /// <summary>The home slot of a hash in a segment: its high bits, mixed (the low ten chose the segment).</summary>
    private static int Position(int hash, int mask) => (int)(((uint)hash * 0x9E3779B1u) >> 10) & mask;

    private static unsafe void Hint(ref byte address) => Sse.Prefetch0(Unsafe.AsPointer(ref address));

    private struct Slot
    {
        public int Hash;
        public int Chunk;
        public int Offset;

        /// <summary>The table's tick when the key was last written or (under LRU) read: its age for eviction.</summary>
        public uint Used;
    }

    private sealed class Segment
    {
        public Slot[] Slots = new Slot[MinSlots];
        public int Version;
        public int Live;
        public int Used;
    }
}
