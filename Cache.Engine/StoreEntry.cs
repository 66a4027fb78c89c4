namespace Cache.Engine;

/// <summary>One stored value. The key and value arrays are never changed after construction.</summary>
internal sealed class StoreEntry
{
    public StoreEntry(StoreKey key, byte[] value, long size, long expiresAtUnixMs)
    {
        Key = key;
        Value = value;
        Size = size;
        ExpiresAtUnixMs = expiresAtUnixMs;
    }

    public StoreKey Key { get; }

    public byte[] Value { get; }

    /// <summary>Bytes charged to the budget: key + value + <see cref="BlockStore.EntryOverhead"/>.</summary>
    public long Size { get; }

    /// <summary>Unix time in milliseconds at which the entry expires; 0 for never. Changed only under the key's stripe lock.</summary>
    public long ExpiresAtUnixMs;

    /// <summary>Position in the store's entry ring; guarded by the ring's lock; -1 once unlinked.</summary>
    public int RingIndex = -1;

    /// <summary>The CLOCK reference bit: set by hits without a lock, cleared by the eviction hand.</summary>
    public volatile bool Referenced;

    /// <summary>Set once, under the key's stripe lock, when the entry leaves the store.</summary>
    public bool Removed;

    public bool IsExpired(long nowUnixMs) => ExpiresAtUnixMs != 0 && nowUnixMs >= ExpiresAtUnixMs;
}
