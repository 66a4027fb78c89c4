using Cache.Dataset;

namespace Cache.Tests.Dataset;

public class DistributedSamplerTests
{
    // Expected shares from PyTorch's DistributedSampler rule (torch/utils/data/distributed.py: num_samples,
    // padding by repeating the list from its start, indices[rank:total_size:num_replicas]), run in Python
    // with shuffle=False so the expected lists are literal. Format: size, replicas, drop_last, num_samples, shares.
    public static TheoryData<long, int, bool, long, long[][]> PyTorchCases => new()
    {
        { 10, 4, false, 3, [[0, 4, 8], [1, 5, 9], [2, 6, 0], [3, 7, 1]] },
        { 10, 4, true, 2, [[0, 4], [1, 5], [2, 6], [3, 7]] },
        { 8, 4, false, 2, [[0, 4], [1, 5], [2, 6], [3, 7]] },
        { 8, 4, true, 2, [[0, 4], [1, 5], [2, 6], [3, 7]] },
        { 2, 5, false, 1, [[0], [1], [0], [1], [0]] },
        { 2, 5, true, 0, [[], [], [], [], []] },
        { 1, 3, false, 1, [[0], [0], [0]] },
        { 7, 1, false, 7, [[0, 1, 2, 3, 4, 5, 6]] },
        { 7, 3, true, 2, [[0, 3], [1, 4], [2, 5]] },
        { 7, 3, false, 3, [[0, 3, 6], [1, 4, 0], [2, 5, 1]] },
        { 0, 2, false, 0, [[], []] },
        { 0, 2, true, 0, [[], []] },
        { 5, 2, false, 3, [[0, 2, 4], [1, 3, 0]] },
        { 3, 8, false, 1, [[0], [1], [2], [0], [1], [2], [0], [1]] },
    };

    [Theory]
    [MemberData(nameof(PyTorchCases))]
    public void Shares_and_padding_match_PyTorchs_rule(long size, int replicas, bool dropLast, long numSamples, long[][] shares)
    {
        for (var rank = 0; rank < replicas; rank++)
        {
            var sampler = new DistributedSampler(size, replicas, rank, shuffle: false, dropLast: dropLast);
            Assert.Equal(numSamples, sampler.NumSamples);
            Assert.Equal(numSamples * replicas, sampler.TotalSize);
            Assert.Equal(shares[rank], sampler.Indices(0));
            Assert.Equal(shares[rank], sampler.ToArray());
        }
    }

    [Theory]
    [InlineData(1000, 4, false)]
    [InlineData(1003, 4, false)]
    [InlineData(1003, 4, true)]
    [InlineData(5, 7, false)]
    public void Shuffled_shares_are_the_padded_permutation_split_by_stride(long size, int replicas, bool dropLast)
    {
        const long seed = 42;
        const int epoch = 3;

        // One replica without drop_last is the permutation itself; every rank must cut the same one.
        var permutation = new DistributedSampler(size, 1, 0, seed: seed).Indices(epoch);
        Assert.Equal(Enumerable.Range(0, (int)size).Select(i => (long)i), permutation.Order());
        var total = new DistributedSampler(size, replicas, 0, seed: seed, dropLast: dropLast).TotalSize;
        var padded = Enumerable.Range(0, (int)total).Select(p => permutation[(int)(p % size)]).ToArray();
        for (var rank = 0; rank < replicas; rank++)
        {
            var expected = padded.Where((_, p) => p % replicas == rank);
            Assert.Equal(expected, new DistributedSampler(size, replicas, rank, seed: seed, dropLast: dropLast).Indices(epoch));
        }
    }

    [Theory]
    [InlineData(1000, 4)]
    [InlineData(1001, 3)]
    public void With_drop_last_each_index_appears_at_most_once_and_the_shares_are_disjoint(long size, int replicas)
    {
        var all = Enumerable.Range(0, replicas).SelectMany(r => new DistributedSampler(size, replicas, r, seed: 7, dropLast: true).Indices(1)).ToList();
        Assert.Equal(size / replicas * replicas, all.Count);
        Assert.Equal(all.Count, all.Distinct().Count());
    }

    [Fact]
    public void Without_drop_last_every_index_appears_and_only_the_padding_repeats()
    {
        const long size = 1001;
        const int replicas = 4;
        var all = Enumerable.Range(0, replicas).SelectMany(r => new DistributedSampler(size, replicas, r, seed: 7).Indices(2)).ToList();
        Assert.Equal(1004, all.Count);
        Assert.Equal(size, all.Distinct().Count());
        Assert.All(all, i => Assert.InRange(i, 0, size - 1));
    }

    [Fact]
    public void Epoch_and_seed_change_the_order_and_the_same_pair_repeats_it()
    {
        var a = new DistributedSampler(500, 2, 1, seed: 1);
        var b = new DistributedSampler(500, 2, 1, seed: 1);
        var c = new DistributedSampler(500, 2, 1, seed: 2);
        Assert.Equal(a.Indices(0), b.Indices(0));
        Assert.NotEqual(a.Indices(0), a.Indices(1));
        Assert.NotEqual(a.Indices(0), c.Indices(0));
        a.SetEpoch(5);
        Assert.Equal(5, a.Epoch);
        Assert.Equal(b.Indices(5), a.ToArray());
    }

    [Fact]
    public void Without_shuffle_the_order_is_the_identity_split_by_stride()
    {
        Assert.Equal([1L, 4, 7], new DistributedSampler(9, 3, 1, shuffle: false).Indices(9));
    }

    [Fact]
    public void Bad_arguments_are_refused_naming_the_argument()
    {
        Assert.Equal("rank", Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedSampler(10, 2, 2)).ParamName);
        Assert.Equal("rank", Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedSampler(10, 2, -1)).ParamName);
        Assert.Equal("numReplicas", Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedSampler(10, 0, 0)).ParamName);
        Assert.Equal("datasetSize", Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedSampler(-1, 1, 0)).ParamName);
        Assert.Equal("epoch", Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedSampler(10, 1, 0).SetEpoch(-1)).ParamName);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(64)]
    public void A_bound_sampler_hints_every_index_once_in_order_before_it_is_yielded(int window)
    {
        var target = new RecordingTarget();
        var sampler = new DistributedSampler(301, 2, 0, seed: 3).BindPrefetch(target, window);
        var yielded = new List<long>();
        foreach (var index in sampler)
        {
            // Everything yielded so far, and at least the next half window, was hinted beforehand.
            yielded.Add(index);
            Assert.True(target.Hinted.Count >= Math.Min(sampler.NumSamples, yielded.Count + (window / 2)));
            Assert.True(target.Hinted.Count <= yielded.Count - 1 + window);
        }

        Assert.Equal(yielded, target.Hinted);
        Assert.Equal(sampler.Indices(0), yielded);
    }

    private sealed class RecordingTarget : IPrefetchTarget
    {
        public List<long> Hinted { get; } = [];

        public void Prefetch(IReadOnlyList<long> indices) => Hinted.AddRange(indices);
    }
}
