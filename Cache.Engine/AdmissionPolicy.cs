namespace Cache.Engine;

/// <summary>What a <see cref="BlockStore"/> does when an insert does not fit in its byte budget.</summary>
public enum AdmissionPolicy
{
    /// <summary>
    /// Admit until full, then reject new entries and never evict. Under epochs that visit every
    /// sample once in a fresh random order this keeps a fixed C/N of the samples resident, which is
    /// the best hit rate any policy can reach (C = capacity, N = dataset size). The default for datasets.
    /// </summary>
    Retain = 0,

    /// <summary>
    /// Evict the least recently used entries to make room, approximated so that hits take no lock: keys
    /// without an expiration (the sample table's) carry the tick of their last write or read, and eviction
    /// takes the oldest of five sampled at random, as Redis's <c>allkeys-lru</c> does; keys with an
    /// expiration (the general index's) are aged by the CLOCK algorithm (one reference bit, set on a hit).
    /// The two indexes are sampled in proportion to their entries. For general caching.
    /// </summary>
    Lru = 1,

    /// <summary>Evict entries chosen at random to make room, from either index in proportion to its entries, as Redis's <c>allkeys-random</c>.</summary>
    Random = 2,
}
