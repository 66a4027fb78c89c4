using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Cache.Dataset;
using Cache.Engine;
using Cache.Tests.Support;
using Cache.Transport;
using Cache.Transport.Peer;
using StackExchange.Redis;

namespace Cache.Tests.Transport.Mesh;

/// <summary>A mesh whose other members are separate cache-node processes.</summary>
[Trait("Category", "Slow")]
public class MeshProcessTests
{
    [Fact]
    public async Task Samples_spread_over_node_processes_read_back_and_survive_a_member_dying()
    {
        var ports = Enumerable.Range(0, 3).Select(_ => Support.FreePort.Next()).ToArray();
        var peers = string.Join(",", ports.Select(p => $"127.0.0.1:{p}"));
        var members = ports.Select(p => (EndPoint)new IPEndPoint(IPAddress.Loopback, p)).ToArray();
        var others = new[] { await CacheNodeProcess.StartAsync(peers, 1), await CacheNodeProcess.StartAsync(peers, 2) };
        try
        {
            using var node = new CacheNode(new CacheNodeOptions { Capacity = 64 << 20 });
            await using var server = new PeerServer(node, new PeerServerOptions { Port = ports[0], Secret = "mesh-secret" });
            server.Start();
            node.JoinMesh(members, 0, new PeerClientOptions { Secret = "mesh-secret", RequestTimeout = TimeSpan.FromSeconds(2) });

            var produced = 0;
            var source = Enumerable.Range(0, 300).Select(i => $"sample {i}").ToArray();
            using var dataset = new CachedDataset<string>(new CountingList(source, () => Interlocked.Increment(ref produced)), new CacheOptions { DatasetName = "procs", Node = node, WriterBufferSize = 32 });
            for (var i = 0; i < source.Length; i++)
            {
                Assert.Equal(source[i], dataset[i]);
            }

            dataset.Flush();
            var map = new SlotMap(3);
            for (var rank = 1; rank <= 2; rank++)
            {
                // Ask each process itself (the node reports the mesh, so a cluster-aware client would route by key).
                using var redis = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{ports[rank]}");
                var process = redis.GetServer($"127.0.0.1:{ports[rank]}");
                Assert.Equal(ServerType.Cluster, process.ServerType);
                var owned = Enumerable.Range(0, source.Length).Count(i => map.OwnerOfKey(Encoding.UTF8.GetBytes($"procs:{i}")) == rank);
                var size = (long)await process.ExecuteAsync("DBSIZE");
                Assert.True(owned == size, $"rank {rank}: DBSIZE {size}, owned {owned}; {dataset.Statistics}");

                // KEYS covers the process's own slots; EXISTS on any key is answered by its owner.
                var expected = Enumerable.Range(0, source.Length).Select(i => $"procs:{i}").Where(k => map.OwnerOfKey(Encoding.UTF8.GetBytes(k)) == rank).Order(StringComparer.Ordinal);
                var keys = ((RedisResult[])(await process.ExecuteAsync("KEYS", "procs:*"))!).Select(k => (string)k!).Order(StringComparer.Ordinal);
                Assert.Equal(expected, keys);
                var all = Enumerable.Range(0, source.Length).Select(i => (object)$"procs:{i}").ToArray();
                Assert.Equal(source.Length, (long)await process.ExecuteAsync("EXISTS", all));
            }

            for (var i = 0; i < source.Length; i++)
            {
                Assert.Equal(source[i], dataset[i]);
            }

            Assert.True(produced == 300, $"produced {produced}; {dataset.Statistics}");

            others[1].Kill();
            await others[1].WaitForExitAsync();
            for (var i = 0; i < source.Length; i++)
            {
                Assert.Equal(source[i], dataset[i]);
            }

            var onDead = Enumerable.Range(0, source.Length).Count(i => map.OwnerOfKey(Encoding.UTF8.GetBytes($"procs:{i}")) == 2);
            Assert.True(produced == 300 + onDead, $"produced {produced}, expected {300 + onDead}; {dataset.Statistics}");
        }
        finally
        {
            foreach (var process in others)
            {
                if (!process.HasExited)
                {
                    process.Kill();
                }

                process.Dispose();
            }
        }
    }

    private sealed class CountingList(string[] items, Action onRead) : IReadOnlyList<string>
    {
        public int Count => items.Length;

        public string this[int index]
        {
            get
            {
                onRead();
                return items[index];
            }
        }

        public IEnumerator<string> GetEnumerator() => ((IEnumerable<string>)items).GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
