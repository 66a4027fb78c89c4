namespace Cache.Dataset;

/// <summary>Counters of one <see cref="CachedDataset{T}"/> or <see cref="CacheLoader{T}"/>.</summary>
/// <param name="Hits">Reads served from the cache.</param>
/// <param name="BufferHits">Reads served from the write-behind buffer (samples not yet flushed); also counted in <paramref name="Hits"/>.</param>
/// <param name="Misses">Reads that had to produce the sample.</param>
/// <param name="Written">Samples the cache accepted.</param>
/// <param name="Rejected">Samples the cache refused (full under <c>Retain</c>, or larger than the capacity).</param>
/// <param name="Dropped">Samples that never reached the cache: the peer or server failed or timed out, or the write-behind buffer was at its cap while a flush was slow.</param>
/// <param name="Corrupt">Cached values that could not be read back and were recomputed.</param>
public readonly record struct CacheStatistics(long Hits, long BufferHits, long Misses, long Written, long Rejected, long Dropped, long Corrupt)
{
    /// <summary>Hits over reads; 0 before any read.</summary>
    public double HitRate => Hits + Misses == 0 ? 0 : (double)Hits / (Hits + Misses);
}
