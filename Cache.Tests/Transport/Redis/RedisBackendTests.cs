using System.Text;
using Cache.Dataset;
using Cache.Engine;
using Cache.Tests.Support;
using Cache.Transport;
using StackExchange.Redis;

namespace Cache.Tests.Transport.Redis;

/// <summary>The Redis backend against real redis-server processes (skipped, with the reason, where redis-server is not installed).</summary>
[Trait("Category", "Slow")]
public class RedisBackendTests
{
    private static StoreKey Key(string text) => StoreKey.Copy(Encoding.UTF8.GetBytes(text));

    private static RedisBackend Backend(params RedisServerProcess[] servers) =>
        new(new RedisBackendOptions { Hosts = servers.Select(s => s.Host).ToArray(), OperationTimeout = TimeSpan.FromSeconds(2), BreakerWindow = TimeSpan.FromSeconds(30) });

    private static (KeyValuePair<StoreKey, byte[]>[] Entries, StoreKey[] Keys) Samples(string prefix, int count)
    {
        var entries = Enumerable.Range(0, count).Select(i => new KeyValuePair<StoreKey, byte[]>(Key($"{prefix}:{i}"), Encoding.UTF8.GetBytes($"value-{i}"))).ToArray();
        return (entries, entries.Select(e => e.Key).ToArray());
    }

    [RequiresExecutableFact("redis-server")]
    public void Keys_are_sharded_over_three_servers_by_hash_slot_in_host_order()
    {
        using var a = RedisServerProcess.Start();
        using var b = RedisServerProcess.Start();
        using var c = RedisServerProcess.Start();
        using var backend = Backend(a, b, c);
        var (entries, keys) = Samples("shard", 300);
        var results = new SetResult[entries.Length];
        backend.SetMany(entries, results);
        Assert.All(results, r => Assert.Equal(SetResult.Added, r));

        var map = new SlotMap(3);
        var servers = new[] { a, b, c };
        for (var s = 0; s < 3; s++)
        {
            using var direct = ConnectionMultiplexer.Connect(servers[s].Host);
            var db = direct.GetDatabase();
            var expected = keys.Where(k => map.OwnerOfKey(k.Span) == s).ToArray();
            Assert.InRange(expected.Length, 60, 140);
            Assert.Equal(expected.Length, direct.GetServer(servers[s].Host).DatabaseSize());
            Assert.All(expected, k => Assert.True(db.KeyExists(k.Memory.ToArray())));
        }

        var values = new ReadOnlyMemory<byte>[keys.Length];
        var found = new bool[keys.Length];
        backend.GetMany(keys, values, found);
        for (var i = 0; i < keys.Length; i++)
        {
            Assert.True(found[i]);
            Assert.Equal($"value-{i}", Encoding.UTF8.GetString(values[i].Span));
        }
    }

    [RequiresExecutableFact("redis-server", "redis-cli")]
    public void A_redis_cluster_is_detected_and_batches_are_split_by_slot()
    {
        using var cluster = RedisClusterProcess.Start();

        // One seed is enough: the client learns the layout from it.
        using var backend = new RedisBackend(new RedisBackendOptions { Hosts = [cluster.Nodes[1].Host], OperationTimeout = TimeSpan.FromSeconds(2), BreakerWindow = TimeSpan.FromSeconds(30) });
        Assert.True(backend.IsCluster);
        var (entries, keys) = Samples("cluster", 300);
        var results = new SetResult[entries.Length];
        backend.SetMany(entries, results);
        Assert.All(results, r => Assert.Equal(SetResult.Added, r));

        // Each key sits on the node serving its slot, and every node got a share.
        var sizes = cluster.Nodes.Select(n =>
        {
            using var direct = ConnectionMultiplexer.Connect(n.Host);
            return (long)direct.GetServer(n.Host).Execute("DBSIZE");
        }).ToArray();
        Assert.Equal(300, sizes.Sum());
        Assert.All(sizes, size => Assert.InRange(size, 50, 200));

        var values = new ReadOnlyMemory<byte>[keys.Length];
        var found = new bool[keys.Length];
        backend.GetMany(keys, values, found);
        for (var i = 0; i < keys.Length; i++)
        {
            Assert.True(found[i], $"key {i} missing");
            Assert.Equal($"value-{i}", Encoding.UTF8.GetString(values[i].Span));
        }

        Assert.Equal(300, backend.CountKeys("cluster:"u8));
        Assert.Equal(300, backend.RemoveKeys("cluster:"u8));
        Assert.Equal(0, backend.CountKeys("cluster:"u8));
    }

    [RequiresExecutableFact("redis-server", "redis-cli")]
    public void A_dataset_on_a_redis_cluster_with_a_node_killed_keeps_producing_correct_samples()
    {
        using var cluster = RedisClusterProcess.Start();
        var source = Enumerable.Range(0, 200).Select(i => $"sample {i}").ToArray();
        using var dataset = new CachedDataset<string>(source, new CacheOptions { DatasetName = "rc", Hosts = [cluster.Nodes[0].Host] });
        Assert.Equal(source, Enumerable.Range(0, source.Length).Select(i => dataset[i]));
        dataset.Flush();
        Assert.Equal(200, dataset.NumKeys());

        cluster.Nodes[2].Kill();
        Assert.Equal(source, Enumerable.Range(0, source.Length).Select(i => dataset[i]));
        Assert.Equal(source, dataset.GetMany(Enumerable.Range(0, source.Length).Reverse().ToArray()).Reverse());
        Assert.True(dataset.Statistics.Hits > 0);
    }

    [RequiresExecutableFact("redis-server")]
    public void A_server_killed_mid_run_gives_misses_and_failed_writes_not_exceptions()
    {
        using var a = RedisServerProcess.Start();
        using var b = RedisServerProcess.Start();
        using var c = RedisServerProcess.Start();
        using var backend = Backend(a, b, c);
        var (entries, keys) = Samples("kill", 200);
        var written = new SetResult[entries.Length];
        backend.SetMany(entries, written);
        Assert.All(written, r => Assert.Equal(SetResult.Added, r));

        b.Kill();
        var values = new ReadOnlyMemory<byte>[keys.Length];
        var found = new bool[keys.Length];
        for (var round = 0; round < 5; round++)
        {
            backend.GetMany(keys, values, found);
            for (var i = 0; i < keys.Length; i++)
            {
                Assert.Equal(backend.ShardOf(keys[i].Span) != 1, found[i]);
            }
        }

        var results = new SetResult[entries.Length];
        backend.SetMany(entries, results);
        for (var i = 0; i < entries.Length; i++)
        {
            Assert.Equal(backend.ShardOf(keys[i].Span) == 1 ? SetResult.Failed : SetResult.Added, results[i]);
        }

        Assert.False(backend.TryGet(keys.First(k => backend.ShardOf(k.Span) == 1).Span, out _));
        _ = backend.CountKeys("kill:"u8);
    }

    [RequiresExecutableFact("redis-server")]
    public void NumKeys_and_Clear_act_on_one_dataset_and_leave_other_keys_alone()
    {
        using var a = RedisServerProcess.Start();
        using var b = RedisServerProcess.Start();
        var hosts = new[] { a.Host, b.Host };
        using (var other = ConnectionMultiplexer.Connect(a.Host))
        {
            other.GetDatabase().StringSet("someone-else:key", "keep");
        }

        using var first = new CachedDataset<int>(Enumerable.Range(0, 50).ToArray(), new CacheOptions { DatasetName = "first", Hosts = hosts, WriterBufferSize = 7 });
        using var second = new CachedDataset<int>(Enumerable.Range(0, 30).ToArray(), new CacheOptions { DatasetName = "second", Hosts = hosts });
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal(i, first[i]);
        }

        for (var i = 0; i < 30; i++)
        {
            Assert.Equal(i, second[i]);
        }

        Assert.Equal(50, first.NumKeys());
        Assert.Equal(30, second.NumKeys());
        first.Clear();
        Assert.Equal(0, first.NumKeys());
        Assert.Equal(30, second.NumKeys());
        using var check = ConnectionMultiplexer.Connect(a.Host);
        Assert.Equal("keep", (string?)check.GetDatabase().StringGet("someone-else:key"));

        // From the second epoch on, samples come from the servers.
        for (var i = 0; i < 30; i++)
        {
            Assert.Equal(i, second[i]);
        }

        Assert.Equal(30, second.Statistics.Hits);
    }

    [RequiresExecutableFact("redis-server")]
    public void A_dataset_whose_server_dies_keeps_producing_correct_samples_and_counts_dropped_writes()
    {
        using var server = RedisServerProcess.Start();
        var source = Enumerable.Range(0, 300).Select(i => $"sample-{i}").ToArray();
        using var dataset = new CachedDataset<string>(source, new CacheOptions { DatasetName = "dies", Hosts = [server.Host], WriterBufferSize = 10 });
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(source[i], dataset[i]);
        }

        dataset.Flush();
        server.Kill();
        for (var epoch = 0; epoch < 2; epoch++)
        {
            for (var i = 0; i < source.Length; i++)
            {
                Assert.Equal(source[i], dataset[i]);
            }
        }

        dataset.Flush();
        var stats = dataset.Statistics;
        Assert.True(stats.Dropped > 0, "writes to the dead server must be counted as dropped");
        Assert.Equal(0, stats.Rejected);
    }

    [RequiresExecutableFact("redis-server")]
    public void A_wrong_password_fails_at_start_up_with_a_clear_error()
    {
        using var server = RedisServerProcess.Start(password: "right");
        var ex = Assert.Throws<InvalidOperationException>(() => new RedisBackend(new RedisBackendOptions { Hosts = [$"{server.Host},password=wrong"] }));
        Assert.Contains(server.Host, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong", ex.Message.Replace("WRONGPASS", "", StringComparison.Ordinal), StringComparison.Ordinal);
        using var ok = new RedisBackend(new RedisBackendOptions { Hosts = [$"{server.Host},password=right"] });
        var results = new SetResult[1];
        ok.SetMany([new(Key("k"), [1])], results);
        Assert.Equal(SetResult.Added, results[0]);
    }

    [RequiresExecutableFact("redis-server")]
    public void Node_local_mode_uses_the_host_of_the_node_rank()
    {
        using var a = RedisServerProcess.Start();
        using var b = RedisServerProcess.Start();
        using var backend = new RedisBackend(new RedisBackendOptions { Hosts = [a.Host, b.Host], ClusterMode = false, NodeRank = 3 });
        var (entries, _) = Samples("local", 20);
        backend.SetMany(entries, new SetResult[entries.Length]);
        using var direct = ConnectionMultiplexer.Connect(b.Host);
        Assert.Equal(20, direct.GetServer(b.Host).DatabaseSize());
    }

    [Fact]
    public async Task A_sample_written_through_redis_reads_back_through_the_node_and_back()
    {
        // The node speaks RESP: the Redis backend pointed at it stores exactly what the node's own path stores.
        await using var server = TestServer.Start();
        var options = new CacheOptions { DatasetName = "crosspath", Hosts = [$"127.0.0.1:{server.Port}"], WriterBufferSize = 1 };
        using (var viaRedis = new CachedDataset<string>(["alpha", "beta"], options))
        {
            Assert.Equal("alpha", viaRedis[0]);
        }

        using var viaNode = new CachedDataset<string>(["unused", "unused"], new CacheOptions { DatasetName = "crosspath", Node = server.Node, WriterBufferSize = 1 });
        Assert.Equal("alpha", viaNode[0]);
        Assert.Equal(1, viaNode.Statistics.Hits);
        Assert.Equal("unused", viaNode[1]);

        // Written behind: the sample reaches the store when the flusher has written it, which the flush waits for.
        viaNode.Flush();
        using var again = new CachedDataset<string>(["x", "x"], options);
        Assert.Equal("unused", again[1]);
    }
}
