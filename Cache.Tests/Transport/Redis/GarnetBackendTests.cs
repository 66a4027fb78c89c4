using System.Net;
using System.Net.Sockets;
using System.Text;
using Cache.Dataset;
using Cache.Engine;
using Cache.Transport;
using Garnet;

namespace Cache.Tests.Transport.Redis;

/// <summary>The Redis backend against Garnet servers hosted in this test process.</summary>
[Trait("Category", "Slow")]
public class GarnetBackendTests
{
    private sealed class GarnetHost : IDisposable
    {
        private readonly GarnetServer _server;
        private int _disposed;

        public GarnetHost()
        {
            Port = Support.FreePort.Next();

            _server = new GarnetServer(["--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--memory", "64m", "--index", "1m", "--logger-level", "Error"]);
            _server.Start();
        }

        public int Port { get; }

        public string Host => $"127.0.0.1:{Port}";

        public void Dispose()
        {
            // Garnet's own Dispose is not idempotent.
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                _server.Dispose();
            }
        }
    }

    [Fact]
    public void Keys_shard_over_three_garnet_servers_and_a_stopped_server_gives_misses()
    {
        using var a = new GarnetHost();
        var b = new GarnetHost();
        using var c = new GarnetHost();
        try
        {
            using var backend = new RedisBackend(new RedisBackendOptions { Hosts = [a.Host, b.Host, c.Host], OperationTimeout = TimeSpan.FromSeconds(2) });
            var entries = Enumerable.Range(0, 100).Select(i => new KeyValuePair<StoreKey, byte[]>(StoreKey.Copy(Encoding.UTF8.GetBytes($"g:{i}")), Encoding.UTF8.GetBytes($"v{i}"))).ToArray();
            var results = new SetResult[entries.Length];
            backend.SetMany(entries, results);
            Assert.All(results, r => Assert.Equal(SetResult.Added, r));
            var keys = entries.Select(e => e.Key).ToArray();
            var values = new ReadOnlyMemory<byte>[keys.Length];
            var found = new bool[keys.Length];
            backend.GetMany(keys, values, found);
            Assert.All(found, Assert.True);
            Assert.Equal(100, backend.CountKeys("g:"u8));
            var map = new SlotMap(3);
            Assert.All(keys, k => Assert.Equal(map.OwnerOfKey(k.Span), backend.ShardOf(k.Span)));

            b.Dispose();
            backend.GetMany(keys, values, found);
            for (var i = 0; i < keys.Length; i++)
            {
                Assert.Equal(backend.ShardOf(keys[i].Span) != 1, found[i]);
            }
        }
        finally
        {
            b.Dispose();
        }
    }

    [Fact]
    public void A_cached_dataset_on_garnet_reads_back_what_the_source_produced()
    {
        using var garnet = new GarnetHost();
        var source = Enumerable.Range(0, 40).Select(i => new string('x', i * 10)).ToArray();
        using var dataset = new CachedDataset<string>(source, new CacheOptions { DatasetName = "garnet-ds", Hosts = [garnet.Host], WriterBufferSize = 4 });
        for (var epoch = 0; epoch < 2; epoch++)
        {
            for (var i = 0; i < source.Length; i++)
            {
                Assert.Equal(source[i], dataset[i]);
            }
        }

        // Every second-epoch read is a hit (from Garnet, or from the write-behind queue while a write is on its way);
        // the statistics say what happened to a sample that was not (dropped, rejected or failed).
        var statistics = dataset.Statistics;
        Assert.True(statistics.Hits == 40 && statistics.Misses == 40, $"{statistics}");
        Assert.Equal(40, dataset.NumKeys());
    }
}
