namespace Cache.Engine;

/// <summary>
/// The slot of one key: it is both the index's key and its value, and holds the key's bytes and the
/// value's bytes in one array, so that a lookup follows as few pointers as possible. It is created when
/// the key is first stored and stays until the key leaves: replacing the value swaps <see cref="Data"/>
/// in place under the key's stripe lock, so a write-heavy load allocates only the new bytes.
/// </summary>
internal sealed class StoreEntry
{
    private byte[] _data;

    public StoreEntry(byte[] data, int keyLength, int hash, long size, long expiresAtUnixMs)
    {
        _data = data;
        KeyLength = keyLength;
        Hash = hash;
        Size = size;
        ExpiresAtUnixMs = expiresAtUnixMs;
    }

    public int KeyLength { get; }

    /// <summary>The key's hash, as <see cref="StoreKey.GetHashCode"/> computes it.</summary>
    public int Hash { get; }

    /// <summary>The key's bytes followed by the value's. Read without a lock (one reference, so always a
    /// whole pair); replaced under the key's stripe lock. An array is never changed once stored.</summary>
    public byte[] Data
    {
        get => Volatile.Read(ref _data);
        set => Volatile.Write(ref _data, value);
    }

    public ReadOnlySpan<byte> KeySpan => Data.AsSpan(0, KeyLength);

    /// <summary>The value as memory that may leave the store: from now on the entry's bytes are never
    /// overwritten in place (a later value gets a new array), so the caller's view never changes.</summary>
    public ReadOnlyMemory<byte> ShareValue()
    {
        if (!Shared)
        {
            // Dekker-style handshake with TryOverwriteValueLocked: publish the flag before looking at the version.
            Shared = true;
            Interlocked.MemoryBarrier();
        }

        // Always wait out a write in progress: a writer that checked the flag before any reader set it may
        // still be copying, whoever set the flag.
        var spinner = default(SpinWait);
        while ((Volatile.Read(ref Version) & 1) != 0)
        {
            spinner.SpinOnce();
        }

        var data = Data;
        return new ReadOnlyMemory<byte>(data, KeyLength, data.Length - KeyLength);
    }

    /// <summary>The value, for a caller holding the key's stripe lock that does not keep it past the call.</summary>
    public ReadOnlySpan<byte> ValueSpanLocked => Data.AsSpan(KeyLength);

    /// <summary>True once the value's bytes have been handed out as memory (see <see cref="ShareValue"/>).</summary>
    public volatile bool Shared;

    /// <summary>A sequence counter for values overwritten in place: odd while a write is in progress.
    /// Readers that copy the value check it did not change (see <see cref="BlockStore.TryWriteValue{TFormat}"/>).</summary>
    public int Version;

    /// <summary>Readers copying a large value out in pieces right now; while any is, writers leave the bytes alone.</summary>
    public int Copiers;

    /// <summary>
    /// Starts copying the value out in pieces: until <see cref="EndCopy"/>, no writer overwrites the bytes
    /// in place (a new value gets a new array). Returns the bytes to copy (key first).
    /// </summary>
    public byte[] BeginCopy()
    {
        // Dekker-style handshake with TryOverwriteValueLocked, as in ShareValue.
        Interlocked.Increment(ref Copiers);
        var spinner = default(SpinWait);
        while ((Volatile.Read(ref Version) & 1) != 0)
        {
            spinner.SpinOnce();
        }

        return Data;
    }

    /// <summary>Ends a copy started with <see cref="BeginCopy"/>.</summary>
    public void EndCopy() => Interlocked.Decrement(ref Copiers);

    /// <summary>
    /// Overwrites the value's bytes in place (the same length). Returns false, changing nothing, when the
    /// bytes have been shared or are being copied out. Caller holds the key's stripe lock.
    /// </summary>
    public bool TryOverwriteValueLocked(ReadOnlySpan<byte> value)
    {
        var version = Version;
        Volatile.Write(ref Version, version + 1);
        Interlocked.MemoryBarrier();
        if (Shared || Volatile.Read(ref Copiers) != 0)
        {
            Volatile.Write(ref Version, version + 2);
            return false;
        }

        value.CopyTo(Data.AsSpan(KeyLength));
        Volatile.Write(ref Version, version + 2);
        return true;
    }

    /// <summary>Bytes charged to the budget: key + value + <see cref="BlockStore.EntryOverhead"/>. Guarded by the key's stripe lock.</summary>
    public long Size { get; set; }

    /// <summary>Unix time in milliseconds at which the entry expires; 0 for never. Changed only under the key's stripe lock.</summary>
    public long ExpiresAtUnixMs;

    /// <summary>Position in the store's entry ring; guarded by the ring's lock; -1 once unlinked.</summary>
    public int RingIndex = -1;

    /// <summary>The CLOCK reference bit: set by hits without a lock, cleared by the eviction hand.</summary>
    public volatile bool Referenced;

    /// <summary>Set once, under the key's stripe lock, when the entry leaves the store.</summary>
    public bool Removed;

    public bool IsExpired(long nowUnixMs)
    {
        // One read: a concurrent PERSIST must not be seen as "set" and then as 0.
        var expiresAt = Volatile.Read(ref ExpiresAtUnixMs);
        return expiresAt != 0 && nowUnixMs >= expiresAt;
    }

    /// <summary>A new key holding a copy of this entry's key bytes.</summary>
    public StoreKey CopyKey() => StoreKey.Copy(KeySpan);

    /// <summary>Allocates the array of a key and value pair. Values live long, so it goes to the pinned
    /// object heap: the GC never copies it from generation to generation, which would otherwise dominate
    /// the cost of a write-heavy load.</summary>
    public static byte[] Combine(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        var data = GC.AllocateUninitializedArray<byte>(key.Length + value.Length, pinned: true);
        key.CopyTo(data);
        value.CopyTo(data.AsSpan(key.Length));
        return data;
    }

    public override int GetHashCode() => Hash;

    /// <summary>Equal to another entry or a <see cref="StoreKey"/> with the same key bytes: lookups use keys, the index stores entries.</summary>
    public override bool Equals(object? obj) => obj switch
    {
        StoreEntry other => other.Hash == Hash && other.KeySpan.SequenceEqual(KeySpan),
        StoreKey key => key.GetHashCode() == Hash && key.Span.SequenceEqual(KeySpan),
        _ => false,
    };
}
