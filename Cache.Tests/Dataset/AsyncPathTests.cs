using Cache.Dataset;
using Cache.Tests.Support;
using Cache.Transport;

namespace Cache.Tests.Dataset;

public class AsyncPathTests
{
    [Fact]
    public async Task GetManyAsync_over_a_mesh_returns_every_sample_and_the_second_read_is_all_hits()
    {
        await using var mesh = TestMesh.Start(2);
        var source = new IndexSource(80);
        await using var dataset = new CachedDataset<byte[]>(source, new CacheOptions { DatasetName = "async", Node = mesh.Nodes[0], Compression = SampleCompression.None });
        var indices = Enumerable.Range(0, 80).Reverse().ToArray();
        var first = await dataset.GetManyAsync(indices);
        await dataset.FlushAsync();
        var second = await dataset.GetManyAsync(indices);
        for (var i = 0; i < indices.Length; i++)
        {
            Assert.Equal(IndexSource.Expected(indices[i]), first[i]);
            Assert.Equal(IndexSource.Expected(indices[i]), second[i]);
        }

        Assert.Equal(80, source.Produced);
        Assert.Equal(IndexSource.Expected(5), await dataset.GetAsync(5));
        Assert.Equal(80, source.Produced);

        // Some of them live on the other member: the async read went over the wire.
        Assert.True(mesh.Nodes[1].Store.CountKeys("async:"u8) > 0);
    }

    [Fact]
    public async Task NumKeysAsync_and_ClearAsync_count_and_remove_over_every_member_as_the_synchronous_ones_do()
    {
        await using var mesh = TestMesh.Start(3);
        await using var dataset = new CachedDataset<byte[]>(new IndexSource(90), new CacheOptions { DatasetName = "countasync", Node = mesh.Nodes[0], Compression = SampleCompression.None });
        await using var other = new CachedDataset<byte[]>(new IndexSource(10), new CacheOptions { DatasetName = "untouched", Node = mesh.Nodes[0], Compression = SampleCompression.None });
        _ = await dataset.GetManyAsync(Enumerable.Range(0, 90).ToArray());
        _ = await other.GetManyAsync(Enumerable.Range(0, 10).ToArray());

        // The samples are spread over the members; the count waits for what is buffered first.
        Assert.Equal(90, await dataset.NumKeysAsync());
        Assert.Equal(90, dataset.NumKeys());
        Assert.All(mesh.Nodes, n => Assert.True(n.Store.CountKeys("countasync:"u8) > 0));

        Assert.Equal(90, await dataset.ClearAsync());
        Assert.Equal(0, await dataset.NumKeysAsync());
        Assert.All(mesh.Nodes, n => Assert.Equal(0, n.Store.CountKeys("countasync:"u8)));
        Assert.Equal(10, await other.NumKeysAsync());
        Assert.Equal(10, await mesh.Nodes[1].CountKeysAsync("untouched:"u8.ToArray()));
        Assert.Equal(10, await mesh.Nodes[2].RemoveKeysAsync("untouched:"u8.ToArray()));
        Assert.Equal(0, other.NumKeys());
    }

    [Fact]
    public async Task CacheLoader_GetAsync_and_GetManyAsync_load_only_misses()
    {
        using var node = new CacheNode(new CacheNodeOptions { Capacity = 1 << 20 });
        await using var loader = new CacheLoader<string>(new CacheOptions { DatasetName = "asyncloader", Node = node });
        var loads = 0;
        Assert.Equal("A", await loader.GetAsync("a", k => { loads++; return k.ToUpperInvariant(); }));
        Assert.Equal(["A", "B"], await loader.GetManyAsync(["a", "b"], missed => { loads += missed.Count; return missed.Select(k => k.ToUpperInvariant()).ToList(); }));
        Assert.Equal(2, loads);
    }

    [Fact]
    public async Task A_cancelled_async_read_throws_and_does_not_trip_the_peers_breaker()
    {
        await using var mesh = TestMesh.Start(2);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        var keys = Enumerable.Range(0, 50).Select(i => Cache.Engine.StoreKey.Copy(System.Text.Encoding.UTF8.GetBytes($"k{i}"))).ToArray();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            await mesh.Nodes[0].GetManyAsync(keys, new ReadOnlyMemory<byte>[50], new bool[50], cts.Token));
        Assert.False(mesh.Nodes[0].Mesh!.Clients[1]!.Breaker.IsOpen);
    }
}
