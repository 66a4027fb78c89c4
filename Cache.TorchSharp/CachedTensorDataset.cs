using System.Buffers;
using Cache.Dataset;
using static TorchSharp.torch;
using TorchDataset = TorchSharp.torch.utils.data.Dataset;

namespace Cache.TorchSharp;

/// <summary>
/// A TorchSharp <see cref="TorchDataset"/> whose samples are cached after they are first produced:
/// pass it to TorchSharp's <c>DataLoader</c> where the source dataset went. From the second epoch on,
/// <see cref="GetTensor"/> decodes cached bytes (<see cref="TensorCodec"/>) instead of running the
/// source's preprocessing. As the loader's shuffler, use <see cref="CreateSampler"/>: a
/// <see cref="DistributedSampler"/> bound to this dataset, so that the cached samples it is about to hand
/// out are read ahead in the background (<see cref="CachedDataset{T}.Prefetch"/>: batched reads, one
/// request per owner in a mesh), ready when TorchSharp's loader asks for them.
/// </summary>
/// <remarks>
/// <para>Every call returns fresh CPU tensors owned by the caller, decoded from the encoded sample
/// (TorchSharp's loader disposes them after collating). Disposing or changing them never affects the
/// cache. On a miss the source's tensors are encoded, then disposed: a source must return tensors the
/// caller owns, as TorchSharp's <c>GetTensor</c> contract says.</para>
/// <para>Thread-safety: <see cref="GetTensor"/> may be called from any number of threads at once (the
/// loader's <c>num_worker</c>); the source is called concurrently on misses.</para>
/// <para>Failures of the cache (a peer down, a corrupt value) are misses: the source produces the sample.
/// Samples are stored under <c>{DatasetName}:{index}</c>, as for <see cref="CachedDataset{T}"/>.</para>
/// </remarks>
public sealed class CachedTensorDataset : TorchDataset, IPrefetchTarget
{
    private readonly CachedDataset<ReadOnlyMemory<byte>> _cached;
    private readonly TorchDataset? _ownedSource;
    private int _disposed;

    /// <summary>Caches a TorchSharp dataset. Throws <see cref="ArgumentException"/> naming a wrong option.</summary>
    /// <param name="source">Produces a sample on a miss; its <c>GetTensor</c> returns tensors the caller owns, as TorchSharp requires.</param>
    /// <param name="options">The cache's settings (as for <see cref="CachedDataset{T}"/>); read once, now.</param>
    /// <param name="disposeSource">Whether disposing this dataset disposes <paramref name="source"/> (default true, as TorchSharp's loader does with its dataset).</param>
    public CachedTensorDataset(TorchDataset source, CacheOptions options, bool disposeSource = true)
        : this(new TorchSource(source ?? throw new ArgumentNullException(nameof(source))), options)
    {
        _ownedSource = disposeSource ? source : null;
    }

    /// <summary>Caches any indexable source of TorchSharp samples. Throws <see cref="ArgumentException"/> naming a wrong option.</summary>
    /// <param name="source">Produces a sample on a miss, as a new dictionary of tensors that the caller owns (called concurrently).</param>
    /// <param name="options">The cache's settings (<see cref="CacheOptions.PrefetchCapacity"/> bounds the read-ahead); read once, now.</param>
    public CachedTensorDataset(IDataset<Dictionary<string, Tensor>> source, CacheOptions options)
    {
        ArgumentNullException.ThrowIfNull(source);
        _cached = new CachedDataset<ReadOnlyMemory<byte>>(new EncodingSource(source), options, TensorBytesSerializer.Instance);
    }

    /// <summary>The number of samples (the source's).</summary>
    public override long Count => _cached.Count;

    /// <summary>The dataset name that prefixes every key.</summary>
    public string DatasetName => _cached.DatasetName;

    /// <summary>This dataset's counters (hits, misses, corrupt values, ...).</summary>
    public CacheStatistics Statistics => _cached.Statistics;

    /// <summary>Sample <paramref name="index"/>: read ahead, decoded from the cache, or produced by the source
    /// and cached. The tensors are new and the caller's.</summary>
    public override Dictionary<string, Tensor> GetTensor(long index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        var bytes = _cached[(int)index];

        // The bytes were checked when they were read (TensorBytesSerializer) or just written by the codec.
        return TensorCodec.TryRead(bytes.Span, out var sample)
            ? sample!
            : throw new InvalidOperationException($"Sample {index} of dataset {DatasetName} could not be decoded.");
    }

    /// <summary>Hints that <paramref name="indices"/> will be asked for soon: the cached ones are read in the
    /// background (<see cref="CachedDataset{T}.Prefetch"/>); misses are produced when asked for. Returns at once.</summary>
    public void Prefetch(IReadOnlyList<long> indices) => _cached.Prefetch(indices);

    /// <summary>
    /// A <see cref="DistributedSampler"/> over this dataset bound to its read-ahead: pass it to TorchSharp's
    /// <c>DataLoader</c> as the shuffler, and call <see cref="DistributedSampler.SetEpoch"/> before each epoch.
    /// </summary>
    /// <param name="readAhead">How many upcoming indices the sampler hints (at least 1; a few batches).</param>
    /// <param name="shuffle">Whether each epoch draws a fresh permutation.</param>
    /// <param name="seed">The seed, the same on every rank.</param>
    /// <param name="dropLast">Truncate instead of padding to a multiple of the ranks.</param>
    /// <param name="numReplicas">The number of ranks; default <c>WORLD_SIZE</c> (1 without).</param>
    /// <param name="rank">This rank; default <c>RANK</c> (0 without).</param>
    public DistributedSampler CreateSampler(int readAhead = 256, bool shuffle = true, long seed = 0, bool dropLast = false, int? numReplicas = null, int? rank = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(readAhead, 1);
        return new DistributedSampler(Count, numReplicas, rank, shuffle, seed, dropLast).BindPrefetch(this, readAhead);
    }

    /// <summary>The number of this dataset's samples in the cache.</summary>
    public long NumKeys() => _cached.NumKeys();

    /// <summary>Removes this dataset's samples from the cache; other datasets are untouched.</summary>
    public void Clear() => _cached.Clear();

    /// <summary>Writes buffered samples to the cache now.</summary>
    public void Flush() => _cached.Flush();

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _cached.Dispose();
            _ownedSource?.Dispose();
        }

        base.Dispose(disposing);
    }

    // The cache holds encoded samples; the source's tensors live only as long as it takes to encode them.
    private sealed class EncodingSource(IDataset<Dictionary<string, Tensor>> source) : IDataset<ReadOnlyMemory<byte>>
    {
        public int Count => source.Count;

        public ReadOnlyMemory<byte> this[int index]
        {
            get
            {
                var sample = source[index] ?? throw new InvalidOperationException($"The source returned no sample for index {index}.");
                try
                {
                    var writer = new ArrayBufferWriter<byte>(EstimateLength(sample));
                    TensorCodec.Write(sample, writer);
                    return writer.WrittenMemory;
                }
                finally
                {
                    foreach (var tensor in sample.Values)
                    {
                        tensor?.Dispose();
                    }
                }
            }
        }

        private static int EstimateLength(Dictionary<string, Tensor> sample)
        {
            long bytes = 8;
            foreach (var (name, tensor) in sample)
            {
                bytes += 24 + (name.Length * 3) + (8 * tensor.Dimensions) + (tensor.NumberOfElements * tensor.ElementSize);
            }

            return (int)Math.Min(bytes, Array.MaxLength);
        }
    }

    // CachedDataset<T> indexes by int; TorchSharp counts in long.
    private sealed class TorchSource : IDataset<Dictionary<string, Tensor>>
    {
        private readonly TorchDataset _dataset;

        public TorchSource(TorchDataset dataset)
        {
            if (dataset.Count > int.MaxValue)
            {
                throw new ArgumentOutOfRangeException(nameof(dataset), dataset.Count, $"A cached dataset holds at most {int.MaxValue} samples.");
            }

            _dataset = dataset;
        }

        public int Count => (int)_dataset.Count;

        public Dictionary<string, Tensor> this[int index] => _dataset.GetTensor(index);
    }
}
