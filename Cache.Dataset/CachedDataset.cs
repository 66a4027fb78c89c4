using System.Collections;

namespace Cache.Dataset;

/// <summary>
/// A dataset whose samples are cached after they are first produced, as Bagua's <c>CachedDataset</c>:
/// <c>this[i]</c> returns the cached sample, or produces it from the source, caches it and returns it.
/// From the second epoch on, samples come from memory.
/// </summary>
/// <typeparam name="T">The sample type; serialized with <see cref="ISampleSerializer{T}"/> (MessagePack by
/// default, pass-through for <c>byte[]</c> and <c>ReadOnlyMemory&lt;byte&gt;</c>).</typeparam>
/// <remarks>
/// <para>Keys are <c>{DatasetName}:{index}</c>. Samples go to the cache through a write-behind buffer of
/// <see cref="CacheOptions.WriterBufferSize"/> entries (default 20), visible to reads before they are flushed.</para>
/// <para>Thread-safety: safe for any number of loader threads; the source's indexer is called concurrently.</para>
/// <para>Ownership: as <see cref="CacheLoader{T}"/>. Failures of the cache are misses, never exceptions.</para>
/// </remarks>
public sealed class CachedDataset<T> : IDataset<T>, IReadOnlyList<T>, IPrefetchTarget, IDisposable, IAsyncDisposable
{
    private readonly IDataset<T> _source;
    private readonly SampleCache<T> _cache;
    private readonly PrefetchStage<T> _prefetch;

    /// <summary>Wraps an indexable source. Throws <see cref="ArgumentException"/> naming a wrong option.</summary>
    /// <param name="source">Where samples come from on a miss.</param>
    /// <param name="options">The settings; read once, now.</param>
    /// <param name="serializer">How samples become bytes; default <see cref="SampleSerializer.Default{T}"/>.</param>
    public CachedDataset(IDataset<T> source, CacheOptions options, ISampleSerializer<T>? serializer = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        _source = source;
        if (options?.PrefetchCapacity is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(CacheOptions.PrefetchCapacity), options.PrefetchCapacity, "PrefetchCapacity must be at least 0.");
        }

        _cache = new SampleCache<T>(CacheSettings.Resolve(options!, defaultWriterBufferSize: 20), serializer);
        _prefetch = new PrefetchStage<T>(this, options!.PrefetchCapacity);
    }

    /// <summary>Wraps any read-only list as the source.</summary>
    public CachedDataset(IReadOnlyList<T> source, CacheOptions options, ISampleSerializer<T>? serializer = null)
        : this(new ListDataset(source ?? throw new ArgumentNullException(nameof(source))), options, serializer)
    {
    }

    /// <summary>The cache core (the loader reads through it).</summary>
    internal SampleCache<T> Cache => _cache;

    /// <summary>The source (the loader's workers produce misses from it).</summary>
    internal IDataset<T> Source => _source;

    /// <summary>The full key of sample <paramref name="index"/>.</summary>
    internal Engine.StoreKey KeyOf(int index) => KeyEncoding.Create(_cache.KeyPrefix, index);

    /// <summary>The dataset name that prefixes every key.</summary>
    public string DatasetName => _cache.DatasetName;

    /// <summary>The source's sample count.</summary>
    public int Count => _source.Count;

    /// <summary>This dataset's counters.</summary>
    public CacheStatistics Statistics => _cache.Statistics;

    /// <summary>Sample <paramref name="index"/>: cached, or produced by the source and cached.</summary>
    public T this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            if (_prefetch.TryTake(index, out var staged))
            {
                return staged;
            }

            Span<byte> full = stackalloc byte[KeyEncoding.StackLimit];
            full = full[..KeyEncoding.Write(_cache.KeyPrefix, index, full)];
            if (_cache.TryGet(full, out var sample))
            {
                return sample;
            }

            sample = _source[index];
            _cache.Add(Engine.StoreKey.Copy(full), sample);
            return sample;
        }
    }

    /// <summary>Samples at many indices, in the order given, with one batched read of the cache; misses are produced by the source.</summary>
    public IReadOnlyList<T> GetMany(IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        var keys = KeysOf(indices);
        return _cache.GetOrProduceMany(keys, (Source: _source, Indices: indices), static (state, missed) => ProduceMisses(state.Source, state.Indices, missed));
    }

    /// <summary>Sample <paramref name="index"/>, asynchronously: the cache read waits on no thread; a miss is produced by the source on the continuation.</summary>
    public async ValueTask<T> GetAsync(int index, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        if (_prefetch.TryTake(index, out var staged))
        {
            return staged;
        }

        var samples = await GetManyAsync([index], cancellationToken).ConfigureAwait(false);
        return samples[0];
    }

    /// <summary>As <see cref="GetMany"/>, asynchronously: one batched read of the cache that waits on no thread; misses are produced by the source on the continuation.</summary>
    public async ValueTask<IReadOnlyList<T>> GetManyAsync(IReadOnlyList<int> indices, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(indices);
        var keys = KeysOf(indices);
        return await _cache.GetOrProduceManyAsync(keys, (Source: _source, Indices: indices), static (state, missed) => ProduceMisses(state.Source, state.Indices, missed), cancellationToken).ConfigureAwait(false);
    }

    private Engine.StoreKey[] KeysOf(IReadOnlyList<int> indices)
    {
        var keys = new Engine.StoreKey[indices.Count];
        for (var i = 0; i < keys.Length; i++)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(indices[i], nameof(indices));
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(indices[i], Count, nameof(indices));
            keys[i] = KeyOf(indices[i]);
        }

        return keys;
    }

    private static T[] ProduceMisses(IDataset<T> source, IReadOnlyList<int> indices, List<int> missed)
    {
        var produced = new T[missed.Count];
        for (var j = 0; j < produced.Length; j++)
        {
            produced[j] = source[indices[missed[j]]];
        }

        return produced;
    }

    /// <summary>
    /// A hint that the samples at <paramref name="indices"/> will be asked for soon: they are read from the cache in
    /// the background (one batched read, one request per owner) into a staging area of
    /// <see cref="CacheOptions.PrefetchCapacity"/> samples, and handed to the first <c>this[i]</c> that asks.
    /// Returns at once; never does I/O on the caller's thread. Indices out of range, already staged, or beyond the
    /// staging area's room are ignored; a miss is not staged (the indexer produces it). Thread-safe; the list is the caller's.
    /// </summary>
    public void Prefetch(IReadOnlyList<long> indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        _prefetch.Hint(indices);
    }

    /// <summary>The prefetch staging area (tests read its counters).</summary>
    internal PrefetchStage<T> PrefetchStage => _prefetch;

    /// <summary>The number of this dataset's samples in the cache (the buffer is flushed first).</summary>
    public long NumKeys() => _cache.CountKeys();

    /// <summary>Removes this dataset's samples from the cache and the buffer; other datasets are untouched.</summary>
    public void Clear() => _cache.Clear();

    /// <summary>As <see cref="NumKeys"/>, asynchronously: the flush and the count over the mesh or the Redis servers wait on no thread.</summary>
    public ValueTask<long> NumKeysAsync(CancellationToken cancellationToken = default) => _cache.CountKeysAsync(cancellationToken);

    /// <summary>As <see cref="Clear"/>, asynchronously: the flush and the removal over the mesh or the Redis servers wait on no thread. Returns how many samples were removed.</summary>
    public ValueTask<long> ClearAsync(CancellationToken cancellationToken = default) => _cache.ClearAsync(cancellationToken);

    /// <summary>Waits until every sample buffered before the call has been answered for by the cache. Blocks the caller; prefer <see cref="FlushAsync"/>.</summary>
    public void Flush() => _cache.Flush();

    /// <summary>Completes when every sample buffered before the call has been answered for by the cache.</summary>
    public Task FlushAsync(CancellationToken cancellationToken = default) => _cache.FlushAsync(cancellationToken);

    /// <summary>Writes what is buffered and stops the background writer (waiting for its thread). The process's cache itself lives on for other datasets.</summary>
    public void Dispose()
    {
        _prefetch.Dispose();
        _cache.Dispose();
    }

    /// <summary>As <see cref="Dispose"/>, without blocking the caller.</summary>
    public async ValueTask DisposeAsync()
    {
        await _prefetch.StopAsync().ConfigureAwait(false);
        _prefetch.Dispose();
        await _cache.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Enumerates the samples in index order (each through the cache).</summary>
    public IEnumerator<T> GetEnumerator()
    {
        for (var i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private sealed class ListDataset(IReadOnlyList<T> list) : IDataset<T>
    {
        public int Count => list.Count;

        public T this[int index] => list[index];
    }
}
