namespace Cache.Engine;

/// <summary>A snapshot of a <see cref="BlockStore"/>'s counters. Counters only grow, except the gauges
/// <see cref="BytesUsed"/> and <see cref="Entries"/>.</summary>
/// <param name="Hits">Lookups that found a live entry.</param>
/// <param name="Misses">Lookups that found nothing (or an expired entry).</param>
/// <param name="Added">Inserts of an absent key.</param>
/// <param name="Replaced">Inserts that replaced a present key.</param>
/// <param name="RejectedFull">Inserts refused because the budget was full and the policy would not (or could not) make room.</param>
/// <param name="RejectedTooLarge">Inserts refused because the entry is larger than the whole capacity.</param>
/// <param name="Evicted">Entries removed by the policy to make room.</param>
/// <param name="Expired">Entries removed because their time to live ran out.</param>
/// <param name="Removed">Entries removed by a caller (delete, clear).</param>
/// <param name="BytesUsed">Bytes charged to the budget now (keys, values and the per-entry overhead).</param>
/// <param name="Entries">Entries stored now.</param>
/// <param name="Capacity">The budget in bytes.</param>
public readonly record struct StoreStatistics(
    long Hits,
    long Misses,
    long Added,
    long Replaced,
    long RejectedFull,
    long RejectedTooLarge,
    long Evicted,
    long Expired,
    long Removed,
    long BytesUsed,
    long Entries,
    long Capacity)
{
    /// <summary>All inserts refused, for any reason.</summary>
    public long Rejected => RejectedFull + RejectedTooLarge;

    /// <summary>Hits over lookups; 0 when nothing was looked up.</summary>
    public double HitRate => Hits + Misses == 0 ? 0 : (double)Hits / (Hits + Misses);
}
