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
    /// Evict the least recently used entries to make room, approximated with the CLOCK algorithm
    /// (one reference bit per entry, set on a hit, so hits take no lock). For general caching.
    /// </summary>
    Lru = 1,

    /// <summary>Evict entries chosen at random to make room, as Redis's <c>allkeys-random</c>.</summary>
    Random = 2,
}
