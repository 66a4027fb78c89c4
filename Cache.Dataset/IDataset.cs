namespace Cache.Dataset;

/// <summary>An indexable source of samples, as a map-style dataset: a count and an indexer.</summary>
/// <typeparam name="T">The sample type.</typeparam>
/// <remarks>Implementations wrapped by <see cref="CachedDataset{T}"/> are called from many threads at once.</remarks>
public interface IDataset<out T>
{
    /// <summary>The number of samples.</summary>
    int Count { get; }

    /// <summary>Produces sample <paramref name="index"/> (0 ≤ index &lt; <see cref="Count"/>).</summary>
    T this[int index] { get; }
}
