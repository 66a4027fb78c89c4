using System.Buffers;
using Cache.Engine;
using Cache.Transport;
using Microsoft.Extensions.Logging;

namespace Cache.Dataset;

/// <summary>
/// The shared core of <see cref="CachedDataset{T}"/> and <see cref="CacheLoader{T}"/>: full keys in,
/// samples out, through the write-behind, the codec and the backend. Thread-safe.
/// </summary>
internal sealed partial class SampleCache<T> : IDisposable, IAsyncDisposable
{
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_writer;

    private readonly CacheSettings _settings;
    private readonly ISampleSerializer<T> _serializer;
    private readonly ILogger _logger;
    private readonly WriteBehind _writeBehind;
    private readonly CompressionGate _compression = new();

    private readonly StripedCounter _hits = new();
    private readonly StripedCounter _misses = new();
    private long _bufferHits;
    private long _corrupt;

    public SampleCache(CacheSettings settings, ISampleSerializer<T>? serializer)
    {
        _settings = settings;
        _serializer = serializer ?? SampleSerializer.Default<T>();
        _logger = settings.LoggerFactory.CreateLogger("Cache.Dataset." + settings.DatasetName);
        _writeBehind = new WriteBehind(settings.Backend, settings.DatasetName, settings.WriterBufferSize, QueueBound(settings.WriterBufferSize), _logger);
    }

    public string DatasetName => _settings.DatasetName;

    /// <summary>
    /// The most samples the write-behind holds: 4x the writer buffer, at least 1024, so that a burst of
    /// producers that outruns the flusher for a moment (a thread is never as quick to wake as a loop is to add)
    /// does not drop samples; a backend that stays slow still cannot grow the queue without bound.
    /// </summary>
    internal static int QueueBound(int writerBufferSize) => Math.Max(4 * writerBufferSize, 1024);

    /// <summary>UTF-8 of <c>{DatasetName}:</c>; a full key is this prefix and the sample's key.</summary>
    public ReadOnlySpan<byte> KeyPrefix => _settings.KeyPrefix;

    public CacheSettings Settings => _settings;

    /// <summary>The background write-behind (tests read its counters).</summary>
    internal WriteBehind WriteBehind => _writeBehind;

    public CacheStatistics Statistics => new(
        _hits.Read(),
        Interlocked.Read(ref _bufferHits),
        _misses.Read(),
        _writeBehind.Written,
        _writeBehind.Rejected,
        _writeBehind.Dropped,
        Interlocked.Read(ref _corrupt));

    /// <summary>Reads a sample by full key from the write-behind or the backend. A miss is counted.</summary>
    public bool TryGet(ReadOnlySpan<byte> fullKey, out T sample)
    {
        if (_writeBehind.TryGet(fullKey, out var buffered) && TryDecode(buffered, out sample))
        {
            Interlocked.Increment(ref _bufferHits);
            _hits.Increment();
            return true;
        }

        if (_settings.Backend.TryGet(fullKey, out var stored) && TryDecode(stored, out sample))
        {
            _hits.Increment();
            return true;
        }

        _misses.Increment();
        sample = default!;
        return false;
    }

    /// <summary>
    /// Reads many samples with one batched read of the backend; <paramref name="found"/>[i] tells whether
    /// <paramref name="samples"/>[i] was filled. Misses are counted. Returns the positions that missed, in order.
    /// </summary>
    public List<int> GetMany(StoreKey[] keys, T[] samples, bool[] found)
    {
        var remote = TakeBuffered(keys, samples, found, counted: true);
        if (remote.Count == 0)
        {
            return remote;
        }

        var askKeys = Select(keys, remote);
        var values = new ReadOnlyMemory<byte>[remote.Count];
        var hit = new bool[remote.Count];
        _settings.Backend.GetMany(askKeys, values, hit);
        return Scatter(remote, values, hit, samples, found, counted: true);
    }

    /// <summary>As <see cref="GetMany(StoreKey[], T[], bool[])"/>, asynchronously.</summary>
    public ValueTask<List<int>> GetManyAsync(StoreKey[] keys, T[] samples, bool[] found, CancellationToken cancellationToken) =>
        GetManyAsync(keys, samples, found, SampleReads.None, cancellationToken);

    /// <summary>
    /// As <see cref="GetMany(StoreKey[], T[], bool[])"/>, asynchronously. With <see cref="SampleReads.CompleteInline"/> the
    /// samples are decoded, and the caller's continuation runs, on the thread that received the last reply (see
    /// <see cref="ICacheBackend.GetManyInlineAsync"/>): only for a caller that does little after the await. With
    /// <see cref="SampleReads.Uncounted"/> neither hits nor misses are counted (a background read ahead of the reader
    /// who will count it).
    /// </summary>
    public async ValueTask<List<int>> GetManyAsync(StoreKey[] keys, T[] samples, bool[] found, SampleReads reads, CancellationToken cancellationToken)
    {
        var counted = (reads & SampleReads.Uncounted) == 0;
        var remote = TakeBuffered(keys, samples, found, counted);
        if (remote.Count == 0)
        {
            return remote;
        }

        var askKeys = Select(keys, remote);
        var values = new ReadOnlyMemory<byte>[remote.Count];
        var hit = new bool[remote.Count];
        await BackendAsync.GetManyAsync(_settings.Backend, askKeys, values, hit, (reads & SampleReads.CompleteInline) != 0, cancellationToken).ConfigureAwait(false);
        return Scatter(remote, values, hit, samples, found, counted);
    }

    /// <summary>
    /// The one miss-filling loop of <see cref="CachedDataset{T}.GetMany"/> and <see cref="CacheLoader{T}.GetMany"/>:
    /// a batched read, then <paramref name="produce"/> for the positions that missed (in order; it returns one
    /// sample per position), each produced sample queued for the cache.
    /// </summary>
    public T[] GetOrProduceMany<TState>(StoreKey[] keys, TState state, Func<TState, List<int>, IReadOnlyList<T>> produce)
    {
        var samples = new T[keys.Length];
        var missed = GetMany(keys, samples, new bool[keys.Length]);
        FillMisses(keys, samples, missed, produce(state, missed));
        return samples;
    }

    /// <summary>As <see cref="GetOrProduceMany"/>, with the read asynchronous; <paramref name="produce"/> runs on the caller's continuation.</summary>
    public async ValueTask<T[]> GetOrProduceManyAsync<TState>(StoreKey[] keys, TState state, Func<TState, List<int>, IReadOnlyList<T>> produce, CancellationToken cancellationToken)
    {
        var samples = new T[keys.Length];
        var missed = await GetManyAsync(keys, samples, new bool[keys.Length], cancellationToken).ConfigureAwait(false);
        FillMisses(keys, samples, missed, produce(state, missed));
        return samples;
    }

    /// <summary>Puts produced samples at the positions that missed and queues them for the cache.</summary>
    public void FillMisses(StoreKey[] keys, T[] samples, List<int> missed, IReadOnlyList<T>? produced)
    {
        if (missed.Count == 0)
        {
            return;
        }

        if (produced is null || produced.Count != missed.Count)
        {
            throw new InvalidOperationException($"{produced?.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"} values were produced for {missed.Count} keys that missed; there must be one value per key, in order.");
        }

        for (var j = 0; j < missed.Count; j++)
        {
            samples[missed[j]] = produced[j];
            Add(keys[missed[j]], produced[j]);
        }
    }

    /// <summary>Queues a freshly produced sample under <paramref name="key"/> (owned from now on). Encodes on the caller's thread; never does I/O.</summary>
    public void Add(StoreKey key, T sample) => _writeBehind.Add(key, Encode(sample));

    /// <summary>As <see cref="Add"/>, but written with the next <see cref="RequestFlush"/> (or the next full writer buffer), not on its own: the loader's misses, one write per batch.</summary>
    public void AddHeld(StoreKey key, T sample) => _writeBehind.Add(key, Encode(sample), held: true);

    /// <summary>Waits until every queued sample has been answered for by the backend.</summary>
    public void Flush() => _writeBehind.Flush();

    /// <summary>Asks the write-behind to write what it holds now, without waiting (the end of an epoch).</summary>
    public void RequestFlush() => _writeBehind.RequestFlush();

    /// <summary>Completes when every queued sample has been answered for by the backend.</summary>
    public Task FlushAsync(CancellationToken cancellationToken = default) => _writeBehind.FlushAsync(cancellationToken);

    public long CountKeys()
    {
        Flush();
        return _settings.Backend.CountKeys(KeyPrefix);
    }

    public long Clear()
    {
        // What is queued goes out first, so that nothing written after the removal brings it back.
        Flush();
        return _settings.Backend.RemoveKeys(KeyPrefix);
    }

    public async ValueTask<long> CountKeysAsync(CancellationToken cancellationToken)
    {
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        return await _settings.Backend.CountKeysAsync(_settings.KeyPrefix, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<long> ClearAsync(CancellationToken cancellationToken)
    {
        // As Clear: what is queued goes out first.
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        return await _settings.Backend.RemoveKeysAsync(_settings.KeyPrefix, cancellationToken).ConfigureAwait(false);
    }

    public void Dispose() => _writeBehind.Dispose();

    public ValueTask DisposeAsync() => _writeBehind.DisposeAsync();

    /// <summary>Counts a hit that a background read (<see cref="SampleReads.Uncounted"/>) found and a reader has now taken.</summary>
    public void CountHit() => _hits.Increment();

    private List<int> TakeBuffered(StoreKey[] keys, T[] samples, bool[] found, bool counted)
    {
        var remote = new List<int>(keys.Length);
        for (var i = 0; i < keys.Length; i++)
        {
            if (_writeBehind.TryGet(keys[i], out var buffered) && TryDecode(buffered, out samples[i]))
            {
                found[i] = true;
                if (counted)
                {
                    Interlocked.Increment(ref _bufferHits);
                    _hits.Increment();
                }
            }
            else
            {
                remote.Add(i);
            }
        }

        return remote;
    }

    private static StoreKey[] Select(StoreKey[] keys, List<int> positions)
    {
        var selected = new StoreKey[positions.Count];
        for (var j = 0; j < positions.Count; j++)
        {
            selected[j] = keys[positions[j]];
        }

        return selected;
    }

    private List<int> Scatter(List<int> remote, ReadOnlyMemory<byte>[] values, bool[] hit, T[] samples, bool[] found, bool counted)
    {
        var missed = new List<int>();
        for (var j = 0; j < remote.Count; j++)
        {
            var i = remote[j];
            found[i] = hit[j] && TryDecode(values[j], out samples[i]);
            if (found[i])
            {
                if (counted)
                {
                    _hits.Increment();
                }
            }
            else
            {
                if (counted)
                {
                    _misses.Increment();
                }

                missed.Add(i);
            }
        }

        return missed;
    }

    private byte[] Encode(T sample)
    {
        if (sample is null)
        {
            return ValueCodec.EncodeNull();
        }

        var writer = t_writer ??= new ArrayBufferWriter<byte>(16 * 1024);
        writer.ResetWrittenCount();
        _serializer.Serialize(sample, writer);
        var attempt = _settings.CompressAtLeast > 0 && writer.WrittenCount >= _settings.CompressAtLeast && _compression.ShouldTry();
        var encoded = ValueCodec.Encode(writer.WrittenSpan, attempt ? _settings.CompressAtLeast : 0);
        if (attempt)
        {
            _compression.Record(encoded[0] == (byte)ValueFormat.Lz4);
        }

        if (writer.Capacity > 4 * 1024 * 1024)
        {
            // Do not pin a huge buffer to the thread after one unusually large sample.
            t_writer = null;
        }

        return encoded;
    }

    private bool TryDecode(ReadOnlyMemory<byte> encoded, out T sample)
    {
        switch (ValueCodec.TryDecode(encoded, out var payload))
        {
            case DecodeResult.Null:
                sample = default!;
                return true;
            case DecodeResult.Value:
                try
                {
                    sample = _serializer.Deserialize(payload);
                    return true;
                }
#pragma warning disable CA1031 // A sample the serializer cannot read is recomputed: the cache is never the source of truth.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    CountCorrupt(ex);
                    sample = default!;
                    return false;
                }

            default:
                CountCorrupt(null);
                sample = default!;
                return false;
        }
    }

    private void CountCorrupt(Exception? ex)
    {
        if (Interlocked.Increment(ref _corrupt) == 1)
        {
            LogCorrupt(_logger, ex, _settings.DatasetName);
        }
    }

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Dataset {DatasetName}: a cached value could not be read back and was recomputed (counted as corrupt)")]
    private static partial void LogCorrupt(ILogger logger, Exception? exception, string datasetName);
}
