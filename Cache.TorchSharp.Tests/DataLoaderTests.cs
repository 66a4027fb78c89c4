using Cache.Dataset;
using Cache.Tests.Support;
using Cache.Transport;
using TorchSharp;
using static TorchSharp.torch;
using TorchDataLoader = TorchSharp.Modules.DataLoader;

namespace Cache.TorchSharp.Tests;

/// <summary>TorchSharp's own DataLoader over the cached dataset, with the distributed sampler as its shuffler.</summary>
public class DataLoaderTests
{
    [Fact]
    public async Task Two_ranks_of_a_mesh_see_each_index_exactly_once_per_epoch_in_a_new_order_each_epoch()
    {
        const int size = 96;
        await using var mesh = TestMesh.Start(2);
        var sources = new[] { new SyntheticDataset(size), new SyntheticDataset(size) };
        var datasets = Enumerable.Range(0, 2)
            .Select(rank => new CachedTensorDataset(sources[rank], new CacheOptions { DatasetName = "mesh-loader", Node = mesh.Nodes[rank] }))
            .ToArray();
        var samplers = Enumerable.Range(0, 2).Select(rank => datasets[rank].CreateSampler(readAhead: 24, seed: 7, numReplicas: 2, rank: rank)).ToArray();
        var loaders = Enumerable.Range(0, 2).Select(rank => new TorchDataLoader(datasets[rank], 8, samplers[rank], num_worker: 2)).ToArray();
        try
        {
            var orders = new List<long[]>();
            for (var epoch = 0; epoch < 3; epoch++)
            {
                var seen = new List<long>();
                for (var rank = 0; rank < 2; rank++)
                {
                    samplers[rank].SetEpoch(epoch);
                    foreach (var batch in loaders[rank])
                    {
                        var indices = batch["index"].data<long>().ToArray();
                        using var expected = stack(indices.Select(i => SyntheticDataset.Make(i)["image"]).ToArray());
                        TensorAssert.Equal(expected, batch["image"]);
                        TensorAssert.Equal(batch["index"].remainder(10), batch["label"]);
                        seen.AddRange(indices);
                    }
                }

                Assert.Equal(Enumerable.Range(0, size).Select(i => (long)i), seen.Order());
                orders.Add([.. seen]);
            }

            Assert.NotEqual(orders[0], orders[1]);
            Assert.NotEqual(orders[1], orders[2]);

            // Epoch 1 produced each sample once, on one rank or the other; later epochs read the mesh, except
            // for what a rank still held in its write-behind buffer (up to 20 samples) when the other asked.
            datasets[0].Flush();
            datasets[1].Flush();
            Assert.InRange(sources[0].Calls + sources[1].Calls, size, size + (2 * 20));
            Assert.Equal(size, datasets[0].NumKeys());
        }
        finally
        {
            foreach (var loader in loaders)
            {
                loader.Dispose(); // disposes its dataset, and that its source
            }
        }

        Assert.True(sources[0].Disposed && sources[1].Disposed);
    }

    [Fact]
    public void Several_workers_give_the_same_batches_as_the_uncached_loader()
    {
        const int size = 200;
        using var node = new CacheNode(new CacheNodeOptions { Capacity = 64 << 20 });
        var source = new SyntheticDataset(size);
        using var cached = new CachedTensorDataset(source, new CacheOptions { DatasetName = "workers", Node = node }, disposeSource: false);
        using var uncachedSource = new SyntheticDataset(size);
        var cachedSampler = cached.CreateSampler(readAhead: 64, seed: 3, numReplicas: 1, rank: 0);
        var plainSampler = new DistributedSampler(size, numReplicas: 1, rank: 0, seed: 3);
        using var cachedLoader = new TorchDataLoader(cached, 16, cachedSampler, num_worker: 4, disposeDataset: false);
        using var plainLoader = new TorchDataLoader(uncachedSource, 16, plainSampler, num_worker: 4, disposeDataset: false);

        for (var epoch = 0; epoch < 3; epoch++)
        {
            cachedSampler.SetEpoch(epoch);
            plainSampler.SetEpoch(epoch);
            using var plain = plainLoader.GetEnumerator();
            var batches = 0;
            foreach (var batch in cachedLoader)
            {
                Assert.True(plain.MoveNext());
                TensorAssert.Equal(plain.Current, batch);
                batches++;
            }

            Assert.False(plain.MoveNext());
            Assert.Equal(size / 16 + 1, batches);
        }

        // Each sample was produced once, in epoch 1 (the read-ahead reads cached samples only); epochs 2
        // and 3 were all hits.
        Assert.Equal(size, source.Calls);
        Assert.True(cached.Statistics.Hits >= 2 * size);
    }
}
