namespace Cache.Dataset;

/// <summary>
/// Settings of a <see cref="CachedDataLoader{T}"/>. Validated once, when the loader is constructed (a
/// wrong setting throws an <see cref="ArgumentOutOfRangeException"/> whose
/// <see cref="ArgumentException.ParamName"/> is the option's name), and never read again.
/// </summary>
public sealed class DataLoaderOptions
{
    /// <summary>Samples per batch, at least 1. Default 64.</summary>
    public int BatchSize { get; set; } = 64;

    /// <summary>Drop the last batch of an epoch when it is smaller than <see cref="BatchSize"/>. Default false.</summary>
    public bool DropLast { get; set; }

    /// <summary>Threads that produce misses from the source, at least 1. Null (the default): this process's share of
    /// the machine's cores, <c>ProcessorCount / LOCAL_WORLD_SIZE</c>, at least 1.</summary>
    public int? Workers { get; set; }

    /// <summary>Batches in flight ahead of the consumer, at least 1. Default 4. At most
    /// <c>ReadAhead x BatchSize</c> samples are staged at once.</summary>
    public int ReadAhead { get; set; } = 4;
}
