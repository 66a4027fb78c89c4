using System.Buffers;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Caching.Memory;

namespace Cache.Engine;

/// <summary>
/// A bounded in-memory store of immutable byte values under binary-safe keys.
/// </summary>
/// <remarks>
/// <para><b>Two indexes.</b> Keys without an expiration (every dataset sample, and most of a general cache's
/// keys), under every policy, live in a <see cref="SampleTable"/>: records in 4 MB chunks, an index of
/// 16-byte slots in 1024 segments that grow one at a time, no GC object per entry, a last-used tick per
/// slot for LRU. Keys with an expiration live in a <see cref="MemoryCache"/>, whose semantics those need
/// (an entry object that expires, swept by time), with a lock-free lookaside table of live entries in front
/// of it; evicting policies take victims from both in proportion to their entries. The split was decided by measurement (perf <c>scale</c>, 6.2M keys of 100 B through RESP, same
/// run as redis-server): through MemoryCache alone the fill stalled the event thread for up to 13 s,
/// took 2.3x Redis's time and 2.5x its RSS: four GC objects per entry, promoted by every collection of a
/// fill in which everything survives, and a dictionary that doubles on the inserting thread. A key is in one
/// index at a time: giving a sample an expiration moves it to MemoryCache under its lock (inserted there
/// before it leaves the table, so no lock-free reader misses it).</para>
/// <para><b>Budget.</b> The byte budget and the admission policy are the store's own: every insert
/// reserves its charge before it becomes visible (a sample: <see cref="ChargeFor"/>; an indexed entry:
/// <see cref="IndexedChargeFor"/>), and the reservation is released when the insert fails or the entry
/// leaves. The budget is never exceeded, whatever the number of writers.</para>
/// <para><b>Locks.</b> One discipline for every part of the class: a key is changed only under its stripe
/// (one of 256 locks, chosen by the hash's low bits; a sample segment and a lookaside set lie within one
/// stripe). A thread holding a stripe never waits for another stripe (it only tries, see
/// <see cref="TryEvict"/>) except multi-key writers, which take theirs in ascending order. The ring's lock,
/// the sample table's chunk lock and the tracking gate are taken inside a stripe, never the other way round.
/// Lookups take no lock.</para>
/// <para>Thread-safety: every member is safe to call from any number of threads.</para>
/// <para>Buffers: values handed out by <see cref="TryGet"/> are the store's own immutable memory, never
/// reused and never changed, so a caller may keep them as long as it likes but must not write to them (the
/// type is read-only for that reason). Values passed to <see cref="Set(ReadOnlySpan{byte}, ReadOnlySpan{byte}, long, SetCondition)"/>
/// are copied; arrays passed to <see cref="SetOwned(StoreKey, byte[], long, SetCondition)"/> become the store's.</para>
/// </remarks>
public sealed partial class BlockStore : IDisposable
{
    /// <summary>Pass as the expiration of an insert to keep the present entry's expiration (Redis's <c>KEEPTTL</c>).</summary>
    public const long KeepExpiration = -1;

    private const int StripeCount = 256;

    private static readonly bool StrongLoadOrder =
        System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture is System.Runtime.InteropServices.Architecture.X64 or System.Runtime.InteropServices.Architecture.X86;

    /// <summary>Values up to this length may be overwritten in place while no view of them has been handed out.</summary>
    private const int InPlaceLimit = 1024 * 1024;

    /// <summary>Values up to this length are copied out in one piece under a version check; longer ones are
    /// shared and written in pieces (asking the output for one contiguous span that large would waste it).</summary>
    private const int CopyOutLimit = 16 * 1024;

    /// <summary>The general index is this many MemoryCaches, chosen by the hash's top bits: a MemoryCache's
    /// dictionary doubles on the inserting thread, copying every entry it holds, so one of sixteen copies a
    /// sixteenth of the index (the largest step at 6M indexed entries: about 0.4M nodes instead of 6M).</summary>
    private const int IndexShards = 16;

    // The index never expires anything itself (expiration is the store's), so it gets a clock that
    // does not read the system time: MemoryCache reads its clock on every lookup otherwise.
    private readonly MemoryCache[] _index = [.. Enumerable.Range(0, IndexShards).Select(_ => new MemoryCache(new MemoryCacheOptions { Clock = FrozenClock.Instance }))];
    private readonly SampleTable _samples;
    private readonly Lock[] _stripes;
    private readonly EntryRing _ring = new();
    private readonly EntryLookaside _lookaside = new();
    private readonly TimeProvider _time;
    private readonly ITimer? _sweepTimer;
    private readonly Meter _meter;

    // One preallocation at a time, so that two cannot both commit the same room in the budget.
    private readonly Lock _preallocateGate = new();
    private int _disposed;

    /// <summary>Creates a store. Throws <see cref="ArgumentException"/> naming the option when a setting is invalid.</summary>
    public BlockStore(BlockStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Capacity <= 0)
        {
            ThrowHelper.ThrowOptionOutOfRange(nameof(options.Capacity), options.Capacity, "Capacity must be a positive number of bytes.");
        }

        if (!Enum.IsDefined(options.Policy))
        {
            ThrowHelper.ThrowOptionOutOfRange(nameof(options.Policy), options.Policy, "Policy must be Retain, Lru or Random.");
        }

        if (options.ExpirationSweepInterval < TimeSpan.Zero)
        {
            ThrowHelper.ThrowOptionOutOfRange(nameof(options.ExpirationSweepInterval), options.ExpirationSweepInterval, "ExpirationSweepInterval must not be negative.");
        }

        if (options.Preallocate < 0 || options.Preallocate > options.Capacity)
        {
            ThrowHelper.ThrowOptionOutOfRange(nameof(options.Preallocate), options.Preallocate, "Preallocate must be 0 to Capacity bytes.");
        }

        _capacity = options.Capacity;
        _policy = (int)options.Policy;
        Name = options.Name ?? "default";
        _time = options.TimeProvider ?? TimeProvider.System;
        _samples = new SampleTable();
        _stripes = new Lock[StripeCount];
        for (var i = 0; i < _stripes.Length; i++)
        {
            _stripes[i] = new Lock();
        }

        // Before the timer and the meter: a store that cannot get its memory leaves nothing running behind it.
        Preallocate(options.Preallocate);

        if (options.ExpirationSweepInterval > TimeSpan.Zero)
        {
            // The store's clock drives the sweep too, so that a test's clock drives both.
            _sweepTimer = _time.CreateTimer(static state => ((BlockStore)state!).SweepExpired(), this, options.ExpirationSweepInterval, options.ExpirationSweepInterval);
        }

        _meter = CreateMeter();
    }

    /// <summary>The byte budget (see <see cref="Resize"/>).</summary>
    public long Capacity => Volatile.Read(ref _capacity);

    /// <summary>The admission policy (see <see cref="ChangePolicy"/>).</summary>
    public AdmissionPolicy Policy => (AdmissionPolicy)Volatile.Read(ref _policy);

    /// <summary>The store's name, as given in its options.</summary>
    public string Name { get; }

    /// <summary>Entries stored now.</summary>
    public long Count => _ring.Count + (_samples.Count);

    /// <summary>Bytes charged to the budget now.</summary>
    public long BytesUsed => Volatile.Read(ref _used);

    /// <summary>The current time as the store sees it, in Unix milliseconds (the unit of expirations).</summary>
    public long NowUnixMs => _time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>The lookaside table's size now (see <see cref="EntryLookaside"/>), for tests.</summary>
    internal int LookasideSlots => _lookaside.SlotCount;

    /// <summary>Completes the lookaside table's growth to the present count (it grows on the thread pool), for tests.</summary>
    internal void SettleLookaside() => _lookaside.FitNow(_ring.Count);

    /// <summary>Looks a key up. On a hit, <paramref name="value"/> is the stored, immutable value (see the class remarks on ownership).</summary>
    public bool TryGet(ReadOnlySpan<byte> key, out ReadOnlyMemory<byte> value)
    {
        var hash = StoreKey.HashOf(key);
        if (_samples.TryFind(key, hash, out var record, TouchesOnRead))
        {
            _hits.Increment();
            value = record.ShareValue();
            return true;
        }

        var entry = FindCounted(key, hash);
        value = entry?.ShareValue() ?? default;
        return entry is not null;
    }

    /// <summary>
    /// Looks a key up and, on a hit, calls <paramref name="read"/> with its value, held stable for the call
    /// (writers of the key replace it rather than overwrite it in place meanwhile). The span must not
    /// escape the call; unlike <see cref="TryGet"/>, the value stays eligible for in-place overwrites
    /// afterwards. Counts a hit or a miss. Thread-safe.
    /// </summary>
    public bool TryRead<TState>(ReadOnlySpan<byte> key, TState state, ReadOnlySpanAction<byte, TState> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        var hash = StoreKey.HashOf(key);
        if (_samples.TryFind(key, hash, out var record, TouchesOnRead))
        {
            _hits.Increment();
            record.BeginCopy();
            try
            {
                read(record.ValueSpan, state);
            }
            finally
            {
                record.EndCopy();
            }

            return true;
        }

        var entry = FindCounted(key, hash);
        if (entry is null)
        {
            return false;
        }

        var bytes = entry.BeginCopy();
        try
        {
            read(bytes.AsSpan(entry.KeyLength), state);
        }
        finally
        {
            entry.EndCopy();
        }

        return true;
    }

    /// <summary>
    /// Looks a key up and, on a hit, writes its value into <paramref name="output"/> through
    /// <typeparamref name="TFormat"/> (a header, the bytes, a trailer): the copy is checked against concurrent
    /// in-place overwrites and retried, so the bytes written are always one whole value. Unlike
    /// <see cref="TryGet"/>, no view of the store's bytes leaves the store. Counts a hit or a miss.
    /// </summary>
    public bool TryWriteValue<TFormat>(ReadOnlySpan<byte> key, IBufferWriter<byte> output)
        where TFormat : IValueFormat
    {
        ArgumentNullException.ThrowIfNull(output);
        var hash = StoreKey.HashOf(key);
        if (_samples.TryFind(key, hash, out var record, TouchesOnRead))
        {
            _hits.Increment();
            var sample = new SampleCopySource(record);
            CopyOut<TFormat, SampleCopySource>(ref sample, output);
            return true;
        }

        var entry = FindCounted(key, hash);
        if (entry is null)
        {
            return false;
        }

        var source = new IndexedCopySource(entry);
        CopyOut<TFormat, IndexedCopySource>(ref source, output);
        return true;
    }

    /// <summary>
    /// Hints that the keys at <paramref name="keys"/> in <paramref name="source"/> are about to be read (a
    /// pipelined batch of GETs, say), so that the CPU fetches their entries from memory together instead of
    /// one lookup after another: on a store larger than the CPU's caches, most of a lookup's time is spent
    /// waiting for memory. Returns nothing, counts nothing, changes nothing; only the first 32 keys are
    /// hinted. A no-op where the CPU has no prefetch instruction. Thread-safe; keeps no reference to
    /// <paramref name="source"/>.
    /// </summary>
    public void Prefetch(ReadOnlySpan<byte> source, ReadOnlySpan<Range> keys)
    {
        const int MaxHinted = 32;
        if (!EntryLookaside.CanPrefetch)
        {
            return;
        }

        var count = Math.Min(keys.Length, MaxHinted);
        Span<int> hashes = stackalloc int[count];
        for (var i = 0; i < count; i++)
        {
            hashes[i] = StoreKey.HashOf(source[keys[i]]);
        }

        _samples.Prefetch(hashes);
        if (_ring.Count > 0)
        {
            _lookaside.Prefetch(hashes);
        }
    }

    /// <summary>True when the key holds a live entry. Does not count as a hit or a miss.</summary>
    public bool ContainsKey(ReadOnlySpan<byte> key)
    {
        var hash = StoreKey.HashOf(key);
        return (_samples.TryFind(key, hash, out _)) || Find(key, hash) is not null;
    }

    /// <summary>Inserts a copy of <paramref name="value"/> under a copy of <paramref name="key"/>.</summary>
    /// <param name="key">The key; copied.</param>
    /// <param name="value">The value; copied.</param>
    /// <param name="expiresAtUnixMs">Expiration in Unix milliseconds; 0 for none; <see cref="KeepExpiration"/> to keep the present one.</param>
    /// <param name="condition">Insert always, only if absent, or only if present.</param>
    public SetResult Set(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, long expiresAtUnixMs = 0, SetCondition condition = SetCondition.Always)
    {
        if (ChargeFor(key.Length, value.Length) > Capacity)
        {
            Interlocked.Increment(ref _rejectedTooLarge);
            return SetResult.RejectedTooLarge;
        }

        var probe = StoreKey.ForLookup(key);
        var hash = probe.GetHashCode();
        lock (StripeOf(hash))
        {
            return SetAnyLocked(hash, key, value, expiresAtUnixMs, condition, probe);
        }
    }

    /// <summary>Inserts <paramref name="value"/> under <paramref name="key"/>, whose hash is already computed. The caller gives both up: it must not change them afterwards.</summary>
    public SetResult SetOwned(StoreKey key, byte[] value, long expiresAtUnixMs = 0, SetCondition condition = SetCondition.Always)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        if (ChargeFor(key.Length, value.Length) > Capacity)
        {
            Interlocked.Increment(ref _rejectedTooLarge);
            return SetResult.RejectedTooLarge;
        }

        var hash = key.GetHashCode();
        lock (StripeOf(hash))
        {
            return SetAnyLocked(hash, key.Span, value, expiresAtUnixMs, condition, key);
        }
    }

    /// <summary>Removes a key. Returns false when it was absent.</summary>
    public bool Remove(ReadOnlySpan<byte> key)
    {
        var probe = StoreKey.ForLookup(key);
        var hash = probe.GetHashCode();
        lock (StripeOf(hash))
        {
            if (RemoveSampleLocked(key, hash, ref _removed))
            {
                return true;
            }

            var entry = LookupLocked(probe);
            if (entry is null)
            {
                return false;
            }

            RemoveLocked(entry, ref _removed);
            return true;
        }
    }

    /// <summary>Stops the background sweep and releases the index. The store must not be used afterwards.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _sweepTimer?.Dispose();
        _meter.Dispose();
        foreach (var shard in _index)
        {
            shard.Dispose();
        }
    }

    /// <summary>The live indexed entry under a key for a read: counts the hit or the miss and marks the entry referenced (for the CLOCK policy).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private StoreEntry? FindCounted(ReadOnlySpan<byte> key, int hash)
    {
        var entry = Find(key, hash);
        if (entry is null)
        {
            _misses.Increment();
            return null;
        }

        // Written only when it changes, so that hot entries' cache lines are not dirtied on every read.
        if (!entry.Referenced)
        {
            entry.Referenced = true;
        }

        _hits.Increment();
        return entry;
    }

    /// <summary>The live entry under a key in the general index (not the sample table), without a lock.</summary>
    private StoreEntry? Find(ReadOnlySpan<byte> key, int hash)
    {
        if (_ring.Count == 0)
        {
            // Nothing indexed (a store of samples only): skip the index's lookup altogether.
            return null;
        }

        var entry = _lookaside.Find(key, hash);
        if (entry is null)
        {
            if (!IndexOf(hash).TryGetValue(StoreKey.ForLookup(key, hash), out var found) || found is not StoreEntry indexed)
            {
                return null;
            }

            entry = indexed;
            _lookaside.Remember(entry);
        }

        if (entry.ExpiresAtUnixMs != 0 && entry.IsExpired(NowUnixMs))
        {
            lock (StripeOf(entry.Hash))
            {
                // Check again under the lock: a writer may have given the key a new life meanwhile.
                if (entry.Removed || !entry.IsExpired(NowUnixMs))
                {
                    return entry.Removed ? null : entry;
                }

                RemoveLocked(entry, ref _expired);
            }

            return null;
        }

        return entry;
    }

    /// <summary>
    /// Inserts or replaces under the key's stripe lock, which the caller holds, in whichever index the key
    /// lives in or belongs in. <paramref name="lookupKey"/> is a <see cref="StoreKey"/> of the same bytes.
    /// </summary>
    private SetResult SetAnyLocked(int hash, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, long expiresAtUnixMs, SetCondition condition, StoreKey lookupKey)
    {
        if (_samples.TryFindLocked(key, hash, out var record))
        {
            if (condition == SetCondition.IfAbsent)
            {
                return SetResult.ConditionNotMet;
            }

            return expiresAtUnixMs is 0 or KeepExpiration
                ? SetSampleLocked(hash, key, value, record.Bytes)
                : MoveToIndexLocked(hash, key, value, expiresAtUnixMs, record.Bytes);
        }

        var old = LookupLocked(lookupKey);
        if (old is null && expiresAtUnixMs is 0 or KeepExpiration)
        {
            return condition == SetCondition.IfPresent ? SetResult.ConditionNotMet : SetSampleLocked(hash, key, value, 0);
        }

        return SetLocked(hash, key, value, expiresAtUnixMs, condition, old);
    }

    /// <summary>
    /// Inserts or replaces in the general index under the key's stripe lock, which the caller holds;
    /// <paramref name="old"/> is the key's live entry there. The key and value are copied into one new array
    /// only once the insert is sure to be tried.
    /// </summary>
    private SetResult SetLocked(int hash, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, long expiresAtUnixMs, SetCondition condition, StoreEntry? old)
    {
        if ((condition == SetCondition.IfAbsent && old is not null) || (condition == SetCondition.IfPresent && old is null))
        {
            return SetResult.ConditionNotMet;
        }

        var size = IndexedChargeFor(key.Length, value.Length);
        if (size > Capacity)
        {
            Interlocked.Increment(ref _rejectedTooLarge);
            return SetResult.RejectedTooLarge;
        }

        if (expiresAtUnixMs == KeepExpiration)
        {
            expiresAtUnixMs = old?.ExpiresAtUnixMs ?? 0;
        }

        var need = size - (old?.Size ?? 0);
        if (need > 0 && !Reserve(need, old))
        {
            Interlocked.Increment(ref _rejectedFull);
            return SetResult.RejectedFull;
        }

        if (old is not null && need == 0 && !old.Shared && value.Length <= InPlaceLimit && old.TryOverwriteValueLocked(value))
        {
            // Same length, and no caller holds a view of the bytes: they were overwritten where they are, so
            // a steady stream of writes to the same keys allocates nothing. Copying readers check the version.
            if ((old.ExpiresAtUnixMs == 0) != (expiresAtUnixMs == 0))
            {
                Interlocked.Add(ref _expiringCount, expiresAtUnixMs == 0 ? -1 : 1);
            }

            old.ExpiresAtUnixMs = expiresAtUnixMs;
            Interlocked.Increment(ref _replaced);
            return SetResult.Replaced;
        }

        if (old is null)
        {
            AddIndexedLocked(hash, key, value, size, expiresAtUnixMs);
            CountTracked(key, 1);
            Interlocked.Increment(ref _added);
            return SetResult.Added;
        }

        // Replace in place: the slot stays in the index and the ring; only the bytes, their charge and the
        // expiration change (the charge difference was reserved above, or is released here).
        if ((old.ExpiresAtUnixMs == 0) != (expiresAtUnixMs == 0))
        {
            Interlocked.Add(ref _expiringCount, expiresAtUnixMs == 0 ? -1 : 1);
        }

        old.Data = StoreEntry.Combine(key, value);
        old.Size = size;
        old.ExpiresAtUnixMs = expiresAtUnixMs;
        if (need < 0)
        {
            Interlocked.Add(ref _used, need);
        }

        Interlocked.Increment(ref _replaced);
        return SetResult.Replaced;
    }

    /// <summary>Publishes a new entry in the general index, its charge (<paramref name="size"/>) already reserved. Caller holds the key's stripe lock.</summary>
    private void AddIndexedLocked(int hash, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, long size, long expiresAtUnixMs)
    {
        var entry = new StoreEntry(StoreEntry.Combine(key, value), key.Length, hash, size, expiresAtUnixMs);
        IndexOf(hash).Set(entry, entry);
        _ring.Add(entry);
        _lookaside.Fit(_ring.Count);
        _lookaside.Remember(entry);
        if (expiresAtUnixMs != 0)
        {
            Interlocked.Increment(ref _expiringCount);
        }
    }

    /// <summary>The live entry of the general index under a key (a <see cref="StoreKey"/> or an entry), removing it first if it has expired. Caller holds the key's stripe lock.</summary>
    private StoreEntry? LookupLocked(object key)
    {
        if (_ring.Count == 0)
        {
            return null;
        }

        var entry = key is StoreKey probe ? _lookaside.Find(probe.Span, probe.GetHashCode()) : null;
        if (entry is null)
        {
            if (!IndexOf(key.GetHashCode()).TryGetValue(key, out var found) || found is not StoreEntry indexed)
            {
                return null;
            }

            entry = indexed;
            _lookaside.Remember(entry);
        }

        if (entry.IsExpired(entry.ExpiresAtUnixMs == 0 ? 0 : NowUnixMs))
        {
            RemoveLocked(entry, ref _expired);
            return null;
        }

        return entry;
    }

    /// <summary>Takes an entry out of the general index, the ring and the budget. Caller holds the entry's stripe lock.</summary>
    private void RemoveLocked(StoreEntry entry, ref long counter, bool untrack = true)
    {
        // Flagged before it leaves the lookaside: a reader that remembers it meanwhile sees the flag (EntryLookaside.Remember).
        Volatile.Write(ref entry.Removed, true);
        _lookaside.Forget(entry);
        IndexOf(entry.Hash).Remove(entry);
        if (untrack)
        {
            CountTracked(entry.KeySpan, -1);
        }

        _ring.Remove(entry);
        if (entry.ExpiresAtUnixMs != 0)
        {
            Interlocked.Decrement(ref _expiringCount);
        }

        Interlocked.Add(ref _used, -entry.Size);
        Interlocked.Increment(ref counter);
    }

    /// <summary>True when a read makes a sample younger for eviction (only LRU ages keys by use).</summary>
    private bool TouchesOnRead => Volatile.Read(ref _policy) == (int)AdmissionPolicy.Lru;

    private Lock StripeOf(int hash) => _stripes[hash & (StripeCount - 1)];

    private MemoryCache IndexOf(int hash) => _index[(uint)hash >> 28];
}
