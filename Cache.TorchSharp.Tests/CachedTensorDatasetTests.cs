using Cache.Dataset;
using Cache.Transport;
using TorchSharp;
using static TorchSharp.torch;

namespace Cache.TorchSharp.Tests;

public sealed class CachedTensorDatasetTests : IDisposable
{
    private readonly CacheNode _node = new(new CacheNodeOptions { Capacity = 64 << 20 });

    public void Dispose() => _node.Dispose();

    [Fact]
    public void Samples_equal_the_uncached_pipeline_in_every_epoch()
    {
        var source = new SyntheticDataset(50);
        using var cached = new CachedTensorDataset(source, Options("equal"));
        for (var epoch = 0; epoch < 3; epoch++)
        {
            AssertSamplesAreTheSources(cached, Enumerable.Range(0, 50).Select(i => (long)i));
        }

        Assert.Equal(50, source.Calls);
        Assert.Equal(100, cached.Statistics.Hits);
        Assert.Equal(50, cached.Statistics.Misses);
    }

    [Fact]
    public void Every_call_returns_fresh_tensors_and_disposing_them_leaves_the_cache_intact()
    {
        using var cached = new CachedTensorDataset(new SyntheticDataset(4), Options("fresh"));
        var first = cached.GetTensor(2);   // the miss: produced, encoded, decoded
        var second = cached.GetTensor(2);  // a hit
        Assert.NotSame(first["image"], second["image"]);
        first["image"].fill_(-7);
        TensorAssert.DisposeAll([first]);
        second["image"].add_(1000);
        TensorAssert.DisposeAll([second]);

        cached.Flush();
        var third = cached.GetTensor(2);
        var expected = SyntheticDataset.Make(2);
        TensorAssert.Equal(expected, third);
        TensorAssert.DisposeAll([third, expected]);
        Assert.Equal(2, cached.Statistics.Hits);
    }

    [Fact]
    public void A_corrupt_value_in_the_cache_is_a_miss()
    {
        var source = new SyntheticDataset(3);
        var options = Options("corrupt");
        using (var raw = new CachedDataset<ReadOnlyMemory<byte>>([new byte[] { 1, 2, 3 }, "TSC1\x01\0\0\0garbage"u8.ToArray(), Array.Empty<byte>()], options))
        {
            _ = raw[0];
            _ = raw[1];
            _ = raw[2];
        }

        using var cached = new CachedTensorDataset(source, Options("corrupt"));
        AssertSamplesAreTheSources(cached, [0, 1, 2]);

        Assert.Equal(3, source.Calls);
        Assert.Equal(3, cached.Statistics.Corrupt);
        Assert.Equal(0, cached.Statistics.Hits);
    }

    [Fact]
    public void An_indexable_source_of_dictionaries_works_as_a_TorchSharp_dataset_does()
    {
        var made = 0;
        var source = new FuncDataset(10, i =>
        {
            Interlocked.Increment(ref made);
            return SyntheticDataset.Make(i);
        });
        using var cached = new CachedTensorDataset(source, Options("indexable"));
        for (var epoch = 0; epoch < 2; epoch++)
        {
            AssertSamplesAreTheSources(cached, Enumerable.Range(0, 10).Select(i => (long)i));
        }

        Assert.Equal(10, made);
    }

    [Fact]
    public void Bad_arguments_are_clear_errors()
    {
        var error = Assert.Throws<ArgumentException>(() => new CachedTensorDataset(new SyntheticDataset(1), new CacheOptions { DatasetName = "no spaces", Node = _node }));
        Assert.Equal("DatasetName", error.ParamName);
        Assert.Throws<ArgumentNullException>(() => new CachedTensorDataset((utils.data.Dataset)null!, Options("x")));
        using var cached = new CachedTensorDataset(new SyntheticDataset(2), Options("range"));
        Assert.Throws<ArgumentOutOfRangeException>(() => cached.GetTensor(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => cached.GetTensor(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => cached.CreateSampler(readAhead: 0));
    }

    [Fact]
    public void Hinted_samples_come_from_the_cache_without_the_source()
    {
        var source = new SyntheticDataset(64);
        using var cached = new CachedTensorDataset(source, Options("readahead"));
        var all = Enumerable.Range(0, 64).Select(i => (long)i).ToArray();
        AssertSamplesAreTheSources(cached, all);
        cached.Flush();

        var hinted = Enumerable.Range(0, 40).Select(i => (long)((i * 7) % 64)).ToArray();
        cached.Prefetch(hinted);
        AssertSamplesAreTheSources(cached, hinted);

        Assert.Equal(64, source.Calls);
        Assert.Equal(64, cached.Statistics.Misses);
    }

    [Fact]
    public void A_hint_after_disposal_is_ignored()
    {
        var cached = new CachedTensorDataset(new SyntheticDataset(4), Options("late-hint"));
        cached.Dispose();
        cached.Prefetch([0, 1, 2]);
        cached.Dispose();
    }

    [Fact]
    public void Disposing_the_dataset_disposes_its_source_unless_told_not_to()
    {
        var owned = new SyntheticDataset(1);
        new CachedTensorDataset(owned, Options("own")).Dispose();
        Assert.True(owned.Disposed);

        var kept = new SyntheticDataset(1);
        new CachedTensorDataset(kept, Options("keep"), disposeSource: false).Dispose();
        Assert.False(kept.Disposed);
    }

    private static void AssertSamplesAreTheSources(CachedTensorDataset cached, IEnumerable<long> indices)
    {
        foreach (var i in indices)
        {
            var sample = cached.GetTensor(i);
            var expected = SyntheticDataset.Make(i);
            TensorAssert.Equal(expected, sample);
            TensorAssert.DisposeAll([sample, expected]);
        }
    }

    private CacheOptions Options(string name) => new() { DatasetName = name, Node = _node, WriterBufferSize = 4 };

    private sealed class FuncDataset(int count, Func<int, Dictionary<string, Tensor>> make) : IDataset<Dictionary<string, Tensor>>
    {
        public int Count => count;

        public Dictionary<string, Tensor> this[int index] => make(index);
    }
}
