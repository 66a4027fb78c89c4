using System.Buffers;
using System.Collections.Concurrent;
using Cache.Engine;
using Cache.Transport;
using Microsoft.Extensions.Logging;

namespace Cache.Dataset;

/// <summary>
/// The shared core of <see cref="CachedDataset{T}"/> and <see cref="CacheLoader{T}"/>: full keys in,
/// samples out, through the write-behind buffer, the codec and the backend. Thread-safe.
/// </summary>
internal sealed partial class SampleCache<T> : IDisposable
{
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_writer;

    private readonly CacheSettings _settings;
    private readonly ISampleSerializer<T> _serializer;
    private readonly ILogger _logger;

    // Encoded samples not yet written to the backend. Reads look here first, so a sample is visible
    // from the moment it is computed; an entry leaves only after the backend has answered for it.
    private readonly ConcurrentDictionary<StoreKey, byte[]> _pending = new();
    private readonly Lock _flushGate = new();
    private readonly int _pendingCap;
    private int _pendingCount;
    private int _disposed;

    private readonly StripedCounter _hits = new();
    private readonly StripedCounter _misses = new();
    private long _bufferHits;
    private long _written;
    private long _rejected;
    private long _failed;
    private long _dropped;
    private long _corrupt;

    public SampleCache(CacheSettings settings, ISampleSerializer<T>? serializer)
    {
        _settings = settings;
        _pendingCap = Math.Max(4 * settings.WriterBufferSize, 256);
        _serializer = serializer ?? SampleSerializer.Default<T>();
        _logger = settings.LoggerFactory.CreateLogger("Cache.Dataset." + settings.DatasetName);
    }

    public string DatasetName => _settings.DatasetName;

    /// <summary>UTF-8 of <c>{DatasetName}:</c>; a full key is this prefix and the sample's key.</summary>
    public ReadOnlySpan<byte> KeyPrefix => _settings.KeyPrefix;

    public CacheStatistics Statistics => new(
        _hits.Read(),
        Interlocked.Read(ref _bufferHits),
        _misses.Read(),
        Interlocked.Read(ref _written),
        Interlocked.Read(ref _rejected),
        Interlocked.Read(ref _failed) + Interlocked.Read(ref _dropped),
        Interlocked.Read(ref _corrupt));

    /// <summary>Reads a sample by full key from the buffer or the backend. A miss is counted.</summary>
    public bool TryGet(ReadOnlySpan<byte> fullKey, out T sample)
    {
        if (Volatile.Read(ref _pendingCount) > 0 && _pending.TryGetValue(StoreKey.ForLookup(fullKey), out var buffered)
            && TryDecode(buffered, out sample))
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

    /// <summary>Reads many samples; <paramref name="found"/>[i] tells whether <paramref name="samples"/>[i] was filled. Misses are counted.</summary>
    public void GetMany(StoreKey[] keys, T[] samples, bool[] found)
    {
        var remote = new List<int>(keys.Length);
        for (var i = 0; i < keys.Length; i++)
        {
            if (Volatile.Read(ref _pendingCount) > 0 && _pending.TryGetValue(keys[i], out var buffered) && TryDecode(buffered, out samples[i]))
            {
                found[i] = true;
                Interlocked.Increment(ref _bufferHits);
                _hits.Increment();
            }
            else
            {
                remote.Add(i);
            }
        }

        if (remote.Count == 0)
        {
            return;
        }

        var askKeys = new StoreKey[remote.Count];
        for (var j = 0; j < remote.Count; j++)
        {
            askKeys[j] = keys[remote[j]];
        }

        var values = new ReadOnlyMemory<byte>[remote.Count];
        var hit = new bool[remote.Count];
        _settings.Backend.GetMany(askKeys, values, hit);
        for (var j = 0; j < remote.Count; j++)
        {
            var i = remote[j];
            found[i] = hit[j] && TryDecode(values[j], out samples[i]);
            (found[i] ? _hits : _misses).Increment();
        }
    }

    /// <summary>Buffers a freshly produced sample under <paramref name="key"/> (owned from now on), flushing when the buffer is full.</summary>
    public void Add(StoreKey key, T sample)
    {
        // While a flush is slow (a server timing out), loaders keep adding: past the cap the new sample is
        // dropped (and counted) rather than buffered, so the buffer never grows without bound.
        if (Volatile.Read(ref _pendingCount) >= _pendingCap)
        {
            Interlocked.Increment(ref _dropped);
            return;
        }

        var encoded = Encode(sample);
        if (_pending.TryAdd(key, encoded))
        {
            if (Interlocked.Increment(ref _pendingCount) >= _settings.WriterBufferSize)
            {
                Flush(wait: false);
            }
        }
    }

    /// <summary>Writes every buffered sample to the backend.</summary>
    public void Flush() => Flush(wait: true);

    public long CountKeys()
    {
        Flush();
        return _settings.Backend.CountKeys(KeyPrefix);
    }

    public long Clear()
    {
        lock (_flushGate)
        {
            foreach (var key in _pending.Keys)
            {
                if (_pending.TryRemove(key, out _))
                {
                    Interlocked.Decrement(ref _pendingCount);
                }
            }

            return _settings.Backend.RemoveKeys(KeyPrefix);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Flush();
        }
    }

    private void Flush(bool wait)
    {
        // A loader thread that fills the buffer while another flushes does not wait: its sample stays
        // buffered (and readable) and goes out with the next flush.
        if (wait)
        {
            _flushGate.Enter();
        }
        else if (!_flushGate.TryEnter())
        {
            return;
        }

        try
        {
            var batch = _pending.ToArray();
            if (batch.Length == 0)
            {
                return;
            }

            var results = new SetResult[batch.Length];
            _settings.Backend.SetMany(batch, results);
            long written = 0;
            long rejected = 0;
            long failed = 0;
            for (var i = 0; i < batch.Length; i++)
            {
                if (results[i].IsStored())
                {
                    written++;
                }
                else if (results[i] == SetResult.Failed)
                {
                    failed++;
                }
                else
                {
                    rejected++;
                }

                if (_pending.TryRemove(batch[i]))
                {
                    Interlocked.Decrement(ref _pendingCount);
                }
            }

            Interlocked.Add(ref _written, written);
            Interlocked.Add(ref _failed, failed);
            if (rejected > 0 && Interlocked.Add(ref _rejected, rejected) == rejected)
            {
                LogFirstRejection(_logger, _settings.DatasetName, _settings.Backend.Description);
            }
        }
        finally
        {
            _flushGate.Exit();
        }
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
        var encoded = ValueCodec.Encode(writer.WrittenSpan, _settings.CompressAtLeast);
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

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Dataset {DatasetName}: the cache ({Backend}) is full and refuses new samples; they will be recomputed each epoch. Rejections are counted in the statistics")]
    private static partial void LogFirstRejection(ILogger logger, string datasetName, string backend);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Dataset {DatasetName}: a cached value could not be read back and was recomputed (counted as corrupt)")]
    private static partial void LogCorrupt(ILogger logger, Exception? exception, string datasetName);
}
