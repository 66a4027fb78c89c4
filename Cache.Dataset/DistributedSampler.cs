using System.Collections;
using Cache.Transport.Mesh;

namespace Cache.Dataset;

/// <summary>
/// Splits a dataset's indices over the ranks of a job, with the semantics of PyTorch's
/// <c>torch.utils.data.DistributedSampler</c>: every rank draws the same seeded permutation for
/// (<see cref="Seed"/>, <see cref="Epoch"/>); the list is padded (by repeating from its start) or, with
/// <see cref="DropLast"/>, truncated to a multiple of <see cref="NumReplicas"/>; rank <c>r</c> takes
/// positions <c>r, r + W, r + 2W, ...</c>. Without padding, the shares of one epoch are disjoint and
/// together cover every index once.
/// </summary>
/// <remarks>
/// <para>Enumerating yields this rank's indices for the current <see cref="Epoch"/>; call
/// <see cref="SetEpoch"/> before each epoch, as with PyTorch, or every epoch repeats one order. The
/// permutation is this library's own (SplitMix64 Fisher-Yates), stable across runtimes; it is not
/// numerically the permutation <c>torch.randperm</c> would draw.</para>
/// <para>Thread-safety: <see cref="Indices"/> is safe from any thread; <see cref="SetEpoch"/> must not race an
/// enumeration (an enumeration uses the epoch current when it started).</para>
/// </remarks>
public sealed class DistributedSampler : IEnumerable<long>
{
    private IPrefetchTarget? _prefetchTarget;
    private int _prefetchWindow;
    private int _epoch;

    /// <summary>Creates a sampler. Throws <see cref="ArgumentOutOfRangeException"/> naming a wrong argument.</summary>
    /// <param name="datasetSize">The number of samples, at least 0.</param>
    /// <param name="numReplicas">The number of ranks; default <c>WORLD_SIZE</c> from the environment (1 without).</param>
    /// <param name="rank">This rank, 0 ≤ rank &lt; numReplicas; default <c>RANK</c> from the environment (0 without).</param>
    /// <param name="shuffle">Whether each epoch draws a permutation; otherwise indices are in order.</param>
    /// <param name="seed">The seed of every rank; must be the same on all ranks.</param>
    /// <param name="dropLast">Truncate to a multiple of the ranks instead of padding.</param>
    public DistributedSampler(long datasetSize, int? numReplicas = null, int? rank = null, bool shuffle = true, long seed = 0, bool dropLast = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(datasetSize);
        var environment = numReplicas is null || rank is null ? LaunchEnvironment.Read() : null;
        var replicas = numReplicas ?? environment!.WorldSize;
        var me = rank ?? environment!.Rank;
        ArgumentOutOfRangeException.ThrowIfLessThan(replicas, 1, nameof(numReplicas));
        if (me < 0 || me >= replicas)
        {
            throw new ArgumentOutOfRangeException(nameof(rank), me, $"rank must be in [0, {replicas - 1}] for numReplicas = {replicas}.");
        }

        DatasetSize = datasetSize;
        NumReplicas = replicas;
        Rank = me;
        Shuffle = shuffle;
        Seed = seed;
        DropLast = dropLast;

        // PyTorch: with drop_last and a remainder, ceil((N - W) / W), which is floor(N / W); else ceil(N / W).
        NumSamples = dropLast ? datasetSize / replicas : (datasetSize + replicas - 1) / replicas;
        TotalSize = NumSamples * replicas;
    }

    /// <summary>The number of samples in the dataset.</summary>
    public long DatasetSize { get; }

    /// <summary>The number of ranks sharing the dataset.</summary>
    public int NumReplicas { get; }

    /// <summary>This rank.</summary>
    public int Rank { get; }

    /// <summary>Whether each epoch draws a fresh permutation.</summary>
    public bool Shuffle { get; }

    /// <summary>The seed shared by all ranks.</summary>
    public long Seed { get; }

    /// <summary>Whether the tail that does not divide among the ranks is dropped (otherwise the list is padded).</summary>
    public bool DropLast { get; }

    /// <summary>The epoch whose order enumeration yields; set with <see cref="SetEpoch"/>.</summary>
    public int Epoch => Volatile.Read(ref _epoch);

    /// <summary>This rank's number of indices per epoch (PyTorch's <c>num_samples</c>).</summary>
    public long NumSamples { get; }

    /// <summary><see cref="NumSamples"/> × <see cref="NumReplicas"/>: the padded or truncated list's length.</summary>
    public long TotalSize { get; }

    /// <summary>The window given to <see cref="BindPrefetch"/>, 0 when unbound.</summary>
    public int PrefetchWindow => _prefetchWindow;

    /// <summary>Makes enumeration yield epoch <paramref name="epoch"/>'s order (at least 0).</summary>
    public void SetEpoch(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        Volatile.Write(ref _epoch, epoch);
    }

    /// <summary>This rank's indices for <paramref name="epoch"/>, in order. A new list each call, owned by the caller.</summary>
    public IReadOnlyList<long> Indices(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        var n = DatasetSize;
        var order = Shuffle ? SamplePermutation.Create(n, unchecked(Seed + epoch)) : null;
        var share = new long[NumSamples];
        for (long k = 0; k < share.LongLength; k++)
        {
            // Position in the padded list; padding repeats the list from its start (as often as needed when N < W).
            var position = Rank + (k * NumReplicas);
            var source = position % n;
            share[k] = order is null ? source : order[source];
        }

        return share;
    }

    /// <summary>
    /// Binds a read-ahead target: while this sampler is enumerated, it hints the next
    /// <paramref name="window"/> indices to <paramref name="target"/> (for instance
    /// <c>CachedDataset&lt;T&gt;.Prefetch</c>), so that a loader we do not own gets read-ahead.
    /// Returns this sampler. Not thread-safe against a running enumeration.
    /// </summary>
    public DistributedSampler BindPrefetch(IPrefetchTarget target, int window)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        _prefetchTarget = target;
        _prefetchWindow = window;
        return this;
    }

    /// <summary>Yields this rank's indices for the current <see cref="Epoch"/>, hinting ahead when bound.</summary>
    public IEnumerator<long> GetEnumerator()
    {
        var indices = Indices(Epoch);
        var target = _prefetchTarget;
        var window = _prefetchWindow;
        var hintedUpTo = 0;
        for (var p = 0; p < indices.Count; p++)
        {
            // Hint in chunks of half a window, so a hint is not one call per index and the look-ahead
            // never falls below half a window.
            if (target is not null && hintedUpTo < indices.Count && hintedUpTo - p <= window / 2)
            {
                var end = (int)Math.Min(indices.Count, (long)p + window);
                var chunk = new long[end - hintedUpTo];
                for (var k = 0; k < chunk.Length; k++)
                {
                    chunk[k] = indices[hintedUpTo + k];
                }

                hintedUpTo = end;
                target.Prefetch(chunk);
            }

            yield return indices[p];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
