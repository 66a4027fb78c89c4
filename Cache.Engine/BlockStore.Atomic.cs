namespace Cache.Engine;

/// <summary>Read-modify-write and multi-key operations, each atomic with respect to every other operation on the same keys.</summary>
public sealed partial class BlockStore
{
    /// <summary>
    /// As <see cref="BlockStore.Set(ReadOnlySpan{byte}, ReadOnlySpan{byte}, long, SetCondition)"/>, also returning the
    /// value the key held before (Redis's <c>SET ... GET</c>); <paramref name="previous"/> is null when the key was absent.
    /// </summary>
    public SetResult Set(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, long expiresAtUnixMs, SetCondition condition, out ReadOnlyMemory<byte>? previous)
    {
        var probe = StoreKey.ForLookup(key);
        var hash = probe.GetHashCode();
        lock (StripeOf(hash))
        {
            if (_samples.TryFindLocked(key, hash, out var record))
            {
                previous = record.ShareValue();
            }
            else
            {
                previous = LookupLocked(probe)?.ShareValue();
            }

            return SetAnyLocked(hash, key, value, expiresAtUnixMs, condition, probe);
        }
    }

    /// <summary>Removes a key and hands back its value (Redis's GETDEL). Returns false when the key was absent.</summary>
    public bool TryRemove(ReadOnlySpan<byte> key, out ReadOnlyMemory<byte> value)
    {
        var probe = StoreKey.ForLookup(key);
        var hash = probe.GetHashCode();
        lock (StripeOf(hash))
        {
            if (_samples.TryFindLocked(key, hash, out var record))
            {
                value = record.ShareValue();
                RemoveSampleLocked(key, hash, ref _removed);
                return true;
            }

            var entry = LookupLocked(probe);
            if (entry is null)
            {
                value = default;
                return false;
            }

            value = entry.ShareValue();
            RemoveLocked(entry, ref _removed);
            return true;
        }
    }

    /// <summary>
    /// Reads a key and changes its expiration in one step (Redis's GETEX): <paramref name="expiresAtUnixMs"/>
    /// is the new expiration, 0 to remove it, or <see cref="KeepExpiration"/> to leave it. A time already
    /// past deletes the key after reading it.
    /// </summary>
    public bool TryGetAndExpire(ReadOnlySpan<byte> key, long expiresAtUnixMs, out ReadOnlyMemory<byte> value)
    {
        var probe = StoreKey.ForLookup(key);
        var hash = probe.GetHashCode();
        lock (StripeOf(hash))
        {
            if (_samples.TryFindLocked(key, hash, out var record))
            {
                _hits.Increment();
                value = record.ShareValue();
                if (expiresAtUnixMs != KeepExpiration)
                {
                    ExpireSampleLocked(hash, key, record, expiresAtUnixMs);
                }

                return true;
            }

            var entry = LookupLocked(probe);
            if (entry is null)
            {
                _misses.Increment();
                value = default;
                return false;
            }

            _hits.Increment();
            value = entry.ShareValue();
            if (expiresAtUnixMs != KeepExpiration)
            {
                ApplyExpirationLocked(entry, expiresAtUnixMs);
            }

            return true;
        }
    }

    /// <summary>
    /// Sets a key's expiration under a condition (Redis's EXPIRE family with NX, XX, GT, LT). A time
    /// already past deletes the key. <paramref name="expiresAtUnixMs"/> must be positive.
    /// </summary>
    public ExpireResult UpdateExpiration(ReadOnlySpan<byte> key, long expiresAtUnixMs, ExpireCondition condition)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(expiresAtUnixMs, 1);
        var probe = StoreKey.ForLookup(key);
        var hash = probe.GetHashCode();
        lock (StripeOf(hash))
        {
            if (_samples.TryFindLocked(key, hash, out var record))
            {
                // A sample has no expiration.
                if (!ExpireAllowed(0, expiresAtUnixMs, condition))
                {
                    return ExpireResult.NotApplied;
                }

                ExpireSampleLocked(hash, key, record, expiresAtUnixMs);
                return ExpireResult.Applied;
            }

            var entry = LookupLocked(probe);
            if (entry is null)
            {
                return ExpireResult.NotFound;
            }

            if (!ExpireAllowed(entry.ExpiresAtUnixMs, expiresAtUnixMs, condition))
            {
                return ExpireResult.NotApplied;
            }

            ApplyExpirationLocked(entry, expiresAtUnixMs);
            return ExpireResult.Applied;
        }
    }

    private static bool ExpireAllowed(long current, long expiresAtUnixMs, ExpireCondition condition) =>
        (!condition.HasFlag(ExpireCondition.IfNone) || current == 0)
        && (!condition.HasFlag(ExpireCondition.IfAny) || current != 0)
        && (!condition.HasFlag(ExpireCondition.IfGreater) || (current != 0 && expiresAtUnixMs > current))
        && (!condition.HasFlag(ExpireCondition.IfLess) || current == 0 || expiresAtUnixMs < current);

    /// <summary>Removes a key's expiration (Redis's PERSIST). True when it had one.</summary>
    public bool Persist(ReadOnlySpan<byte> key)
    {
        var probe = StoreKey.ForLookup(key);
        lock (StripeOf(probe.GetHashCode()))
        {
            var entry = LookupLocked(probe);
            if (entry is null || entry.ExpiresAtUnixMs == 0)
            {
                return false;
            }

            ApplyExpirationLocked(entry, 0);
            return true;
        }
    }

    /// <summary>
    /// Replaces a key's value with <paramref name="transform"/>'s result, under the key's lock, keeping
    /// its expiration. Returns <see cref="SetResult.ConditionNotMet"/> when the transform returned null.
    /// </summary>
    public SetResult Update<TState>(ReadOnlySpan<byte> key, ref TState state, ValueTransform<TState> transform)
    {
        ArgumentNullException.ThrowIfNull(transform);
        var probe = StoreKey.ForLookup(key);
        var hash = probe.GetHashCode();
        lock (StripeOf(hash))
        {
            if (_samples.TryFindLocked(key, hash, out var record))
            {
                var changed = transform(record.ValueSpan, true, ref state);
                return changed is null ? SetResult.ConditionNotMet : SetSampleLocked(hash, key, changed, record.Bytes);
            }

            var old = LookupLocked(probe);
            var replacement = transform(old is null ? default : old.ValueSpanLocked, old is not null, ref state);
            if (replacement is null)
            {
                return SetResult.ConditionNotMet;
            }

            return old is null ? SetAnyLocked(hash, key, replacement, 0, SetCondition.Always, probe) : SetLocked(hash, key, replacement, old.ExpiresAtUnixMs, SetCondition.Always, old);
        }
    }

    /// <summary>
    /// Inserts several entries as one step (Redis's MSET; with <paramref name="onlyIfNoneExist"/>, MSETNX:
    /// nothing is written when any key is present). A key given twice takes its last value. The store owns
    /// the keys and values from now on. Returns false when <paramref name="onlyIfNoneExist"/> found a key.
    /// <paramref name="results"/> receives each entry's outcome.
    /// </summary>
    public bool SetMany(IReadOnlyList<KeyValuePair<StoreKey, byte[]>> entries, bool onlyIfNoneExist, Span<SetResult> results)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var gates = new SortedSet<int>();
        foreach (var entry in entries)
        {
            gates.Add(entry.Key.GetHashCode() & (StripeCount - 1));
        }

        // Stripes are taken in ascending order, so two multi-key writers cannot wait on each other in a cycle;
        // single-key writers never wait on a second stripe.
        foreach (var gate in gates)
        {
            _stripes[gate].Enter();
        }

        try
        {
            if (onlyIfNoneExist)
            {
                foreach (var entry in entries)
                {
                    if (ExistsLocked(entry.Key))
                    {
                        return false;
                    }
                }
            }

            // All or nothing, as Redis refuses a write command up front when memory is short: a batch that
            // cannot fit is refused before any of it is written. (A concurrent writer of other keys can still
            // take the room between this check and the writes; the entries then report RejectedFull one by one.)
            if (entries.Count > 1 && !BatchFits(entries))
            {
                // An entry that could never fit says so; the others were refused with it.
                for (var i = 0; i < entries.Count; i++)
                {
                    var tooLarge = ChargeOf(entries[i].Key.Length, entries[i].Value.Length) > Capacity;
                    results[i] = tooLarge ? SetResult.RejectedTooLarge : SetResult.RejectedFull;
                    Interlocked.Increment(ref tooLarge ? ref _rejectedTooLarge : ref _rejectedFull);
                }

                return true;
            }

            for (var i = 0; i < entries.Count; i++)
            {
                var (key, value) = entries[i];
                results[i] = SetAnyLocked(key.GetHashCode(), key.Span, value, 0, SetCondition.Always, key);
            }

            return true;
        }
        finally
        {
            foreach (var gate in gates.Reverse())
            {
                _stripes[gate].Exit();
            }
        }
    }

    /// <summary>True when a batch's net new charge fits: in the free budget under Retain, in the whole capacity when eviction can make room. Caller holds the batch's stripes.</summary>
    private bool BatchFits(IReadOnlyList<KeyValuePair<StoreKey, byte[]>> entries)
    {
        // A key written twice is charged once, for its last value (the one that stays).
        var seen = new HashSet<StoreKey>(entries.Count);
        long need = 0;
        for (var i = entries.Count - 1; i >= 0; i--)
        {
            var (key, value) = entries[i];
            if (ChargeOf(key.Length, value.Length) > Capacity)
            {
                return false;
            }

            if (seen.Add(key))
            {
                need += ChargeChangeLocked(key, value.Length);
            }
        }

        var room = Policy == AdmissionPolicy.Retain ? Capacity - BytesUsed : Capacity;
        if (need > room && Policy == AdmissionPolicy.Retain && Volatile.Read(ref _expiringCount) > 0)
        {
            RemoveExpired(256, wait: false, keep: null);
            room = Capacity - BytesUsed;
        }

        return need <= room;
    }

    /// <summary>The bytes a key is charged (key, value and overhead), or -1 when it is absent (Redis's MEMORY USAGE).</summary>
    public long MemoryUsage(ReadOnlySpan<byte> key)
    {
        var hash = StoreKey.HashOf(key);
        if (_samples.TryFind(key, hash, out var record))
        {
            return record.Bytes + SampleTable.IndexChargePerEntry;
        }

        return Find(key, hash)?.Size ?? -1;
    }

    /// <summary>True when the key is present in either index. Caller holds its stripe lock.</summary>
    private bool ExistsLocked(StoreKey key) =>
        (_samples.TryFindLocked(key.Span, key.GetHashCode(), out _)) || LookupLocked(key) is not null;

    /// <summary>How much more (or less) the budget holds once <paramref name="key"/> takes a value of this length without an expiration (as SetMany writes it). Caller holds its stripe lock.</summary>
    private long ChargeChangeLocked(StoreKey key, int valueLength)
    {
        if (_samples.TryFindLocked(key.Span, key.GetHashCode(), out var record))
        {
            return ChargeFor(key.Length, valueLength) - (record.Bytes + SampleTable.IndexChargePerEntry);
        }

        var indexed = LookupLocked(key);
        return indexed is not null
            ? IndexedChargeFor(key.Length, valueLength) - indexed.Size
            : ChargeOf(key.Length, valueLength);
    }
}
