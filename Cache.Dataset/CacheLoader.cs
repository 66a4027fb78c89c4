namespace Cache.Dataset;

/// <summary>
/// A cache of values computed by key, as Bagua's <c>CacheLoader</c>: <see cref="Get(string, Func{string, T})"/>
/// returns the cached value for a key, or computes it with the caller's function, caches it and returns it.
/// </summary>
/// <typeparam name="T">The value type; serialized with <see cref="ISampleSerializer{T}"/> (MessagePack by
/// default, pass-through for <c>byte[]</c> and <c>ReadOnlyMemory&lt;byte&gt;</c>).</typeparam>
/// <remarks>
/// <para>Values go to the cache through a write-behind buffer of <see cref="CacheOptions.WriterBufferSize"/>
/// entries (default 1); buffered values are visible to every read at once. <see cref="Dispose"/> flushes.</para>
/// <para>Thread-safety: every member may be called from any number of threads.</para>
/// <para>Ownership: a value returned on a miss is the one the load function produced; a value returned on a
/// hit is a new object deserialized for this caller (for <c>ReadOnlyMemory&lt;byte&gt;</c>, a read-only view
/// of the cache's immutable bytes).</para>
/// <para>Failures of the cache are misses: the value is computed and training goes on. A null value is cached
/// as null and not recomputed.</para>
/// </remarks>
public sealed class CacheLoader<T> : IDisposable, IAsyncDisposable
{
    private readonly SampleCache<T> _cache;

    /// <summary>Creates a loader. Throws <see cref="ArgumentException"/> naming a wrong option.</summary>
    /// <param name="options">The settings; read once, now.</param>
    /// <param name="serializer">How values become bytes; default <see cref="SampleSerializer.Default{T}"/>.</param>
    public CacheLoader(CacheOptions options, ISampleSerializer<T>? serializer = null)
    {
        _cache = new SampleCache<T>(CacheSettings.Resolve(options, defaultWriterBufferSize: 1), serializer);
    }

    /// <summary>The dataset name that prefixes every key.</summary>
    public string DatasetName => _cache.DatasetName;

    /// <summary>This loader's counters.</summary>
    public CacheStatistics Statistics => _cache.Statistics;

    /// <summary>The value under <paramref name="key"/>: from the cache, or from <paramref name="load"/>, which receives the key as given.</summary>
    public T Get(string key, Func<string, T> load)
    {
        ArgumentNullException.ThrowIfNull(load);
        return Get(key, load, static (k, f) => f(k));
    }

    /// <summary>As <see cref="Get(string, Func{string, T})"/>, passing <paramref name="state"/> to <paramref name="load"/> so that no closure is allocated.</summary>
    public T Get<TState>(string key, TState state, Func<string, TState, T> load)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(load);
        var max = KeyEncoding.MaxLength(_cache.KeyPrefix, key);
        Span<byte> full = max <= KeyEncoding.StackLimit ? stackalloc byte[max] : new byte[max];
        full = full[..KeyEncoding.Write(_cache.KeyPrefix, key, full)];
        if (_cache.TryGet(full, out var value))
        {
            return value;
        }

        value = load(key, state);
        _cache.Add(Engine.StoreKey.Copy(full), value);
        return value;
    }

    /// <summary>
    /// The values under many keys, in the order given, with one batched read of the cache.
    /// <paramref name="loadMany"/> receives the keys that missed (in order) and must return their values in the same order.
    /// </summary>
    public IReadOnlyList<T> GetMany(IReadOnlyList<string> keys, Func<IReadOnlyList<string>, IReadOnlyList<T>> loadMany)
    {
        ArgumentNullException.ThrowIfNull(loadMany);
        var full = FullKeys(keys);

        return _cache.GetOrProduceMany(full, (Keys: keys, Load: loadMany), static (state, missed) =>
            missed.Count == 0 ? [] : state.Load(missed.ConvertAll(i => state.Keys[i])));
    }

    /// <summary>As <see cref="Get(string, Func{string, T})"/>, asynchronously: the cache read waits on no thread; <paramref name="load"/> runs on the continuation.</summary>
    public async ValueTask<T> GetAsync(string key, Func<string, T> load, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(load);
        var values = await GetManyAsync([key], missed => [load(missed[0])], cancellationToken).ConfigureAwait(false);
        return values[0];
    }

    /// <summary>As <see cref="GetMany"/>, asynchronously: one batched read of the cache that waits on no thread; <paramref name="loadMany"/> runs on the continuation.</summary>
    public async ValueTask<IReadOnlyList<T>> GetManyAsync(IReadOnlyList<string> keys, Func<IReadOnlyList<string>, IReadOnlyList<T>> loadMany, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(loadMany);
        var full = FullKeys(keys);
        return await _cache.GetOrProduceManyAsync(full, (Keys: keys, Load: loadMany), static (state, missed) =>
            missed.Count == 0 ? [] : state.Load(missed.ConvertAll(i => state.Keys[i])), cancellationToken).ConfigureAwait(false);
    }

    private Engine.StoreKey[] FullKeys(IReadOnlyList<string> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var full = new Engine.StoreKey[keys.Count];
        for (var i = 0; i < full.Length; i++)
        {
            ArgumentNullException.ThrowIfNull(keys[i], nameof(keys));
            full[i] = KeyEncoding.Create(_cache.KeyPrefix, keys[i]);
        }

        return full;
    }

    /// <summary>The number of keys of this dataset in the cache (the buffer is flushed first).</summary>
    public long NumKeys() => _cache.CountKeys();

    /// <summary>Removes this dataset's keys from the cache and the buffer; other datasets are untouched.</summary>
    public void Clear() => _cache.Clear();

    /// <summary>As <see cref="NumKeys"/>, asynchronously: the flush and the count over the mesh or the Redis servers wait on no thread.</summary>
    public ValueTask<long> NumKeysAsync(CancellationToken cancellationToken = default) => _cache.CountKeysAsync(cancellationToken);

    /// <summary>As <see cref="Clear"/>, asynchronously: the flush and the removal over the mesh or the Redis servers wait on no thread. Returns how many keys were removed.</summary>
    public ValueTask<long> ClearAsync(CancellationToken cancellationToken = default) => _cache.ClearAsync(cancellationToken);

    /// <summary>Waits until every value buffered before the call has been answered for by the cache. Blocks the caller; prefer <see cref="FlushAsync"/>.</summary>
    public void Flush() => _cache.Flush();

    /// <summary>Completes when every value buffered before the call has been answered for by the cache.</summary>
    public Task FlushAsync(CancellationToken cancellationToken = default) => _cache.FlushAsync(cancellationToken);

    /// <summary>Writes what is buffered and stops the background writer (waiting for its thread). The process's cache itself lives on for other datasets.</summary>
    public void Dispose() => _cache.Dispose();

    /// <summary>As <see cref="Dispose"/>, without blocking the caller.</summary>
    public ValueTask DisposeAsync() => _cache.DisposeAsync();
}
