using System.Buffers;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Caching.Memory;

namespace Cache.Engine;

/// <summary>
/// A bounded in-memory store of immutable byte values under binary-safe keys.
/// </summary>
/// <remarks>
/// <para>The index is a <see cref="MemoryCache"/>; reads and writes find most keys through a lock-free
/// lookaside table of live entries in front of it (charged in <see cref="EntryOverhead"/>), and the
/// index answers what the table misses. The byte budget and the admission policy are the store's own:
/// every insert reserves key + value + <see cref="EntryOverhead"/> bytes before it becomes visible,
/// and the reservation is released when the insert fails or the entry leaves. The budget is never
/// exceeded, whatever the number of writers.</para>
/// <para>Thread-safety: every member is safe to call from any number of threads. Lookups take no
/// lock; writes take one of 256 key-striped locks.</para>
/// <para>Buffers: values handed out by <see cref="TryGet"/> are the store's own immutable arrays,
/// never reused and never changed, so a caller may keep them as long as it likes but must not write
/// to them (the type is read-only for that reason). Values passed to <see cref="Set(ReadOnlySpan{byte}, ReadOnlySpan{byte}, long, SetCondition)"/>
/// are copied; arrays passed to <see cref="SetOwned(StoreKey, byte[], long, SetCondition)"/> become the store's.</para>
/// </remarks>
public sealed partial class BlockStore : IDisposable
{
    /// <summary>Bytes charged per entry on top of key and value: the managed objects an entry costs, as
    /// measured (the entry, the array header of its bytes, the index's cache entry and dictionary node,
    /// a ring slot, and amortized table growth come to about 420 bytes on .NET 10; the lookaside table adds
    /// 16 to 32: two to four slots per entry).</summary>
    public const int EntryOverhead = 480;

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

    // The index never expires anything itself (expiration is the store's), so it gets a clock that
    // does not read the system time: MemoryCache reads its clock on every lookup otherwise.
    private readonly MemoryCache _index = new(new MemoryCacheOptions { Clock = FrozenClock.Instance });
    private readonly Lock[] _stripes;
    private readonly EntryRing _ring = new();
    private readonly EntryLookaside _lookaside = new();
    private readonly Lock _trackGate = new();
    private TrackedPrefix[] _tracked = [];
    private readonly TimeProvider _time;
    private readonly Timer? _sweepTimer;
    private readonly Meter _meter;

    private readonly StripedCounter _hits = new();
    private readonly StripedCounter _misses = new();
    private long _added;
    private long _replaced;
    private long _rejectedFull;
    private long _rejectedTooLarge;
    private long _evicted;
    private long _expired;
    private long _removed;
    private long _used;
    private int _expiringCount;
    private int _disposed;

    /// <summary>Creates a store. Throws <see cref="ArgumentException"/> naming the option when a setting is invalid.</summary>
    public BlockStore(BlockStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Capacity <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options.Capacity), options.Capacity, "Capacity must be a positive number of bytes.");
        }

        if (!Enum.IsDefined(options.Policy))
        {
            throw new ArgumentOutOfRangeException(nameof(options.Policy), options.Policy, "Policy must be Retain, Lru or Random.");
        }

        if (options.ExpirationSweepInterval < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options.ExpirationSweepInterval), options.ExpirationSweepInterval, "ExpirationSweepInterval must not be negative.");
        }

        _capacity = options.Capacity;
        _policy = (int)options.Policy;
        Name = options.Name ?? "default";
        _time = options.TimeProvider ?? TimeProvider.System;
        _stripes = new Lock[StripeCount];
        for (var i = 0; i < _stripes.Length; i++)
        {
            _stripes[i] = new Lock();
        }

        if (options.ExpirationSweepInterval > TimeSpan.Zero)
        {
            _sweepTimer = new Timer(static state => ((BlockStore)state!).SweepExpired(), this, options.ExpirationSweepInterval, options.ExpirationSweepInterval);
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
    public long Count => _ring.Count;

    /// <summary>Bytes charged to the budget now.</summary>
    public long BytesUsed => Volatile.Read(ref _used);

    /// <summary>The current time as the store sees it, in Unix milliseconds (the unit of expirations).</summary>
    public long NowUnixMs => _time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>The lookaside table's size now (see <see cref="EntryLookaside"/>), for tests.</summary>
    internal int LookasideSlots => _lookaside.SlotCount;

    /// <summary>The bytes an entry with these lengths is charged.</summary>
    public static long ChargeFor(int keyLength, int valueLength) => (long)EntryOverhead + keyLength + valueLength;

    /// <summary>The live entry under a key for a read: counts the hit or the miss and marks the entry referenced (for the CLOCK policy).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private StoreEntry? FindCounted(ReadOnlySpan<byte> key)
    {
        var entry = Find(key);
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

    /// <summary>Looks a key up. On a hit, <paramref name="value"/> is the stored, immutable value (see the class remarks on ownership).</summary>
    public bool TryGet(ReadOnlySpan<byte> key, out ReadOnlyMemory<byte> value)
    {
        var entry = FindCounted(key);
        value = entry?.ShareValue() ?? default;
        return entry is not null;
    }

    /// <summary>
    /// Looks a key up and, on a hit, calls <paramref name="read"/> with its value, held stable for the call
    /// (writers of the key replace it rather than overwrite it in place meanwhile). The span must not
    /// escape the call; unlike <see cref="TryGet"/>, the value stays eligible for in-place overwrites
    /// afterwards. Counts a hit or a miss. Thread-safe.
    /// </summary>
    public bool TryRead<TState>(ReadOnlySpan<byte> key, TState state, System.Buffers.ReadOnlySpanAction<byte, TState> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        var entry = FindCounted(key);
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
        var entry = FindCounted(key);
        if (entry is null)
        {
            return false;
        }

        for (var attempt = 0; ; attempt++)
        {
            var version = Volatile.Read(ref entry.Version);
            var data = entry.Data;
            var value = data.AsSpan(entry.KeyLength);

            // After a few attempts spoiled by writers of a hot key, hold them off instead of retrying forever.
            if ((version & 1) != 0 || value.Length > CopyOutLimit || attempt >= 8)
            {
                if (value.Length > CopyOutLimit || attempt >= 8)
                {
                    // Written in pieces while writers are kept from overwriting the bytes in place.
                    var bytes = entry.BeginCopy();
                    try
                    {
                        TFormat.Write(bytes.AsSpan(entry.KeyLength), output);
                    }
                    finally
                    {
                        entry.EndCopy();
                    }

                    return true;
                }

                Thread.SpinWait(1);
                continue;
            }

            var span = output.GetSpan(value.Length + TFormat.MaxOverhead);
            var written = TFormat.Format(value, span);

            // The copy's loads must complete before the version is read again. x86 and x64 never let a
            // load pass an earlier one, so only weaker memory models need the (costly) full fence: after
            // a copy it would wait for every store of the copy to drain.
            if (!StrongLoadOrder)
            {
                Interlocked.MemoryBarrier();
            }

            if (Volatile.Read(ref entry.Version) == version && ReferenceEquals(entry.Data, data))
            {
                output.Advance(written);
                return true;
            }
        }
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

        _lookaside.Prefetch(hashes);
    }

    /// <summary>True when the key holds a live entry. Does not count as a hit or a miss.</summary>
    public bool ContainsKey(ReadOnlySpan<byte> key) => Find(key) is not null;

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
            return SetLocked(hash, key, value, expiresAtUnixMs, condition, LookupLocked(probe));
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
            return SetLocked(hash, key.Span, value, expiresAtUnixMs, condition, LookupLocked(key));
        }
    }

    /// <summary>Removes a key. Returns false when it was absent.</summary>
    public bool Remove(ReadOnlySpan<byte> key)
    {
        var probe = StoreKey.ForLookup(key);
        lock (StripeOf(probe.GetHashCode()))
        {
            var entry = LookupLocked(probe);
            if (entry is null)
            {
                return false;
            }

            RemoveLocked(entry, ref _removed);
            return true;
        }
    }

    /// <summary>Sets or clears (0) a present key's expiration; a time already past deletes the key. Returns false when the key is absent.</summary>
    public bool TrySetExpiration(ReadOnlySpan<byte> key, long expiresAtUnixMs)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(expiresAtUnixMs);
        var probe = StoreKey.ForLookup(key);
        lock (StripeOf(probe.GetHashCode()))
        {
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
        var entry = Find(key);
        expiresAtUnixMs = entry?.ExpiresAtUnixMs ?? 0;
        return entry is not null;
    }

    /// <summary>Counts the live keys that start with <paramref name="prefix"/>. O(entries); exact when no writer runs meanwhile.</summary>
    public long CountKeys(ReadOnlySpan<byte> prefix)
    {
        foreach (var tracked in Volatile.Read(ref _tracked))
        {
            if (prefix.SequenceEqual(tracked.Prefix))
            {
                // The stripes are summed without a lock: while a key comes and goes the sum can be one off.
                return Math.Max(0, tracked.Count.Read());
            }
        }

        var now = NowUnixMs;
        long count = 0;
        var chunk = new List<StoreEntry>(4096);
        var cursor = 0;
        do
        {
            chunk.Clear();
            cursor = _ring.Scan(cursor, 4096, chunk);
            foreach (var entry in chunk)
            {
                if (!entry.IsExpired(now) && entry.KeySpan.StartsWith(prefix))
                {
                    count++;
                }
            }
        }
        while (cursor != 0);
        return count;
    }

    /// <summary>
    /// Keeps an exact count of the keys that begin with <paramref name="prefix"/> from now on, so that
    /// <see cref="CountKeys"/> of that prefix answers at once instead of scanning every key (a dataset's
    /// prefix: INFO and NumKeys ask for it, and on a store of millions of keys a scan holds the node's one
    /// event thread for a long while). The keys already there are counted once, while every writer is held
    /// off (on a store of millions of keys, for a fraction of a second: register datasets early). A tracked
    /// count is exact whenever writes are quiet; while keys come and go it may be off by those in flight.
    /// It includes keys that have expired but have not been reclaimed yet (by a lookup, or by the sweep
    /// every <see cref="BlockStoreOptions.ExpirationSweepInterval"/>). Up to 32 prefixes
    /// are tracked; past that, counting them scans as before. Idempotent; thread-safe, but not from inside a
    /// callback the store runs under a key's lock (<see cref="InvalidOperationException"/>: taking every
    /// stripe from there could deadlock against a multi-key writer).
    /// </summary>
    public void TrackPrefix(ReadOnlySpan<byte> prefix)
    {
        const int MaxTracked = 32;
        foreach (var stripe in _stripes)
        {
            if (stripe.IsHeldByCurrentThread)
            {
                throw new InvalidOperationException("TrackPrefix cannot be called from inside a store callback that holds a key's lock.");
            }
        }

        lock (_trackGate)
        {
            var current = _tracked;
            foreach (var tracked in current)
            {
                if (prefix.SequenceEqual(tracked.Prefix))
                {
                    return;
                }
            }

            if (current.Length >= MaxTracked)
            {
                return;
            }

            // Every stripe, in ascending order as multi-key writers take them: no insert or removal runs
            // while the keys already stored are counted, so none is counted twice or missed.
            foreach (var stripe in _stripes)
            {
                stripe.Enter();
            }

            try
            {
                var counter = new StripedCounter();
                counter.Add(_ring.CountPrefixed(prefix));

                Volatile.Write(ref _tracked, [.. current, new TrackedPrefix(prefix.ToArray(), counter)]);
            }
            finally
            {
                foreach (var stripe in _stripes)
                {
                    stripe.Exit();
                }
            }
        }
    }

    /// <summary>
    /// One step of a cursor scan, as Redis's SCAN: appends the live keys found at the next
    /// <paramref name="positions"/> positions from <paramref name="cursor"/> (start with 0) and returns the
    /// cursor to continue from, 0 when the scan is complete. Every key present from the start of a full scan
    /// to its end is returned exactly once; keys added or removed meanwhile may or may not be.
    /// </summary>
    public int Scan(int cursor, int positions, List<StoreKey> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentOutOfRangeException.ThrowIfNegative(cursor);
        ArgumentOutOfRangeException.ThrowIfLessThan(positions, 1);
        var chunk = new List<StoreEntry>(Math.Min(positions, 4096));
        var next = _ring.Scan(cursor, positions, chunk);
        var now = NowUnixMs;
        foreach (var entry in chunk)
        {
            if (!entry.IsExpired(now))
            {
                keys.Add(entry.CopyKey());
            }
        }

        return next;
    }

    /// <summary>A live key chosen at random, or null when the store is empty.</summary>
    public StoreKey? RandomKey()
    {
        var now = NowUnixMs;
        for (var attempt = 0; attempt < 32; attempt++)
        {
            var entry = _ring.RandomEntry();
            if (entry is null)
            {
                return null;
            }

            if (!entry.IsExpired(now))
            {
                return entry.CopyKey();
            }
        }

        return null;
    }

    /// <summary>Entries that carry an expiration now.</summary>
    public long ExpiringCount => Volatile.Read(ref _expiringCount);

    /// <summary>Removes every key that starts with <paramref name="prefix"/> (an empty prefix removes everything). Returns how many were removed.</summary>
    public long RemoveKeys(ReadOnlySpan<byte> prefix)
    {
        long removed = 0;
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

    /// <summary>A snapshot of the counters.</summary>
    public StoreStatistics GetStatistics() => new(
        _hits.Read(),
        _misses.Read(),
        Interlocked.Read(ref _added),
        Interlocked.Read(ref _replaced),
        Interlocked.Read(ref _rejectedFull),
        Interlocked.Read(ref _rejectedTooLarge),
        Interlocked.Read(ref _evicted),
        Interlocked.Read(ref _expired),
        Interlocked.Read(ref _removed),
        BytesUsed,
        Count,
        Capacity);

    /// <summary>Stops the background sweep and releases the index. The store must not be used afterwards.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _sweepTimer?.Dispose();
        _meter.Dispose();
        _index.Dispose();
    }

    private StoreEntry? Find(ReadOnlySpan<byte> key)
    {
        var hash = StoreKey.HashOf(key);
        var entry = _lookaside.Find(key, hash);
        if (entry is null)
        {
            if (!_index.TryGetValue(StoreKey.ForLookup(key, hash), out var found) || found is not StoreEntry indexed)
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
    /// Inserts or replaces under the key's stripe lock, which the caller holds; <paramref name="old"/> is the
    /// key's live entry. The key and value are copied into one new array only once the insert is sure to be tried.
    /// </summary>
    private SetResult SetLocked(int hash, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, long expiresAtUnixMs, SetCondition condition, StoreEntry? old)
    {
        if ((condition == SetCondition.IfAbsent && old is not null) || (condition == SetCondition.IfPresent && old is null))
        {
            return SetResult.ConditionNotMet;
        }

        var size = ChargeFor(key.Length, value.Length);
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

        var data = StoreEntry.Combine(key, value);
        if (old is null)
        {
            var entry = new StoreEntry(data, key.Length, hash, size, expiresAtUnixMs);
            _index.Set(entry, entry);
            _ring.Add(entry);
            _lookaside.Fit(_ring.Count);
            _lookaside.Remember(entry);
            CountTracked(key, 1);
            if (expiresAtUnixMs != 0)
            {
                Interlocked.Increment(ref _expiringCount);
            }

            Interlocked.Increment(ref _added);
            return SetResult.Added;
        }

        // Replace in place: the slot stays in the index and the ring; only the bytes, their charge and the
        // expiration change (the charge difference was reserved above, or is released here).
        if ((old.ExpiresAtUnixMs == 0) != (expiresAtUnixMs == 0))
        {
            Interlocked.Add(ref _expiringCount, expiresAtUnixMs == 0 ? -1 : 1);
        }

        old.Data = data;
        old.Size = size;
        old.ExpiresAtUnixMs = expiresAtUnixMs;
        if (need < 0)
        {
            Interlocked.Add(ref _used, need);
        }

        Interlocked.Increment(ref _replaced);
        return SetResult.Replaced;
    }

    /// <summary>The live entry under a key (a <see cref="StoreKey"/> or an entry), removing it first if it has expired. Caller holds the key's stripe lock.</summary>
    private StoreEntry? LookupLocked(object key)
    {
        var entry = key is StoreKey probe ? _lookaside.Find(probe.Span, probe.GetHashCode()) : null;
        if (entry is null)
        {
            if (!_index.TryGetValue(key, out var found) || found is not StoreEntry indexed)
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

    /// <summary>Counts a key in or out of the tracked prefixes it begins with (see <see cref="TrackPrefix"/>). Caller holds the key's stripe lock.</summary>
    private void CountTracked(ReadOnlySpan<byte> key, long delta)
    {
        foreach (var tracked in Volatile.Read(ref _tracked))
        {
            if (key.StartsWith(tracked.Prefix))
            {
                tracked.Count.Add(delta);
            }
        }
    }

    /// <summary>Takes an entry out of the index, the ring and the budget. Caller holds the entry's stripe lock.</summary>
    private void RemoveLocked(StoreEntry entry, ref long counter)
    {
        // Flagged before it leaves the lookaside: a reader that remembers it meanwhile sees the flag (EntryLookaside.Remember).
        Volatile.Write(ref entry.Removed, true);
        _lookaside.Forget(entry);
        _index.Remove(entry);
        CountTracked(entry.KeySpan, -1);
        _ring.Remove(entry);
        if (entry.ExpiresAtUnixMs != 0)
        {
            Interlocked.Decrement(ref _expiringCount);
        }

        Interlocked.Add(ref _used, -entry.Size);
        Interlocked.Increment(ref counter);
    }

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

    private Lock StripeOf(int hash) => _stripes[hash & (StripeCount - 1)];

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

    private Meter CreateMeter()
    {
        var meter = new Meter("Cache.Engine");
        var tag = new KeyValuePair<string, object?>("cache.store", Name);
        meter.CreateObservableCounter("cache.store.hits", () => new Measurement<long>(_hits.Read(), tag), "{lookup}", "Lookups that found a live entry");
        meter.CreateObservableCounter("cache.store.misses", () => new Measurement<long>(_misses.Read(), tag), "{lookup}", "Lookups that found nothing");
        meter.CreateObservableCounter("cache.store.added", () => new Measurement<long>(Interlocked.Read(ref _added), tag), "{entry}", "Inserts of absent keys");
        meter.CreateObservableCounter("cache.store.rejected", () => new Measurement<long>(Interlocked.Read(ref _rejectedFull) + Interlocked.Read(ref _rejectedTooLarge), tag), "{entry}", "Inserts refused for lack of room");
        meter.CreateObservableCounter("cache.store.evicted", () => new Measurement<long>(Interlocked.Read(ref _evicted), tag), "{entry}", "Entries evicted to make room");
        meter.CreateObservableCounter("cache.store.expired", () => new Measurement<long>(Interlocked.Read(ref _expired), tag), "{entry}", "Entries whose time to live ran out");
        meter.CreateObservableGauge("cache.store.bytes_used", () => new Measurement<long>(BytesUsed, tag), "By", "Bytes charged to the budget");
        meter.CreateObservableGauge("cache.store.entries", () => new Measurement<long>(Count, tag), "{entry}", "Entries stored");
        return meter;
    }

    /// <summary>A prefix whose keys are counted as they come and go (<see cref="TrackPrefix"/>).</summary>
    private sealed record TrackedPrefix(byte[] Prefix, StripedCounter Count);
}
