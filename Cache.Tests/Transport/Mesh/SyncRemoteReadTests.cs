using System.Net;
using System.Text;
using Cache.Engine;
using Cache.Tests.Support;

namespace Cache.Tests.Transport.Mesh;

public class SyncRemoteReadTests
{
    [Fact]
    [Trait("Category", "Slow")]
    public async Task Synchronous_remote_reads_holding_every_minimum_pool_thread_get_their_replies_without_a_timeout()
    {
        // The owner is a cache-node process, so its serving does not share this process's thread pool, which the
        // readers below saturate: what is tested is that a synchronous reader's reply needs no pool thread here.
        var ports = new[] { FreePort.Next(), FreePort.Next() };
        var peers = string.Join(",", ports.Select(p => $"127.0.0.1:{p}"));
        using var owner = await CacheNodeProcess.StartAsync(peers, 1);
        try
        {
            using var node = new CacheNode(new CacheNodeOptions { Capacity = 64 << 20 });
            await using var server = new PeerServer(node, new PeerServerOptions { Port = ports[0], Secret = "mesh-secret" });
            server.Start();
            node.JoinMesh([new IPEndPoint(IPAddress.Loopback, ports[0]), new IPEndPoint(IPAddress.Loopback, ports[1])], 0, new PeerClientOptions { Secret = "mesh-secret", RequestTimeout = TimeSpan.FromSeconds(2), BreakerWindow = TimeSpan.FromSeconds(30) });
            var keys = Enumerable.Range(0, 4000)
                .Select(i => Encoding.UTF8.GetBytes($"sat:{i}"))
                .Where(k => node.OwnerOf(k) == 1)
                .Take(32)
                .ToArray();
            var batchKeys = keys.Select(k => StoreKey.Copy(k)).ToArray();
            var results = new SetResult[keys.Length];
            node.SetMany([.. batchKeys.Select(k => new KeyValuePair<StoreKey, byte[]>(k, k.Memory.ToArray()))], results);
            Assert.All(results, r => Assert.True(r.IsStored()));

            // The connection exists before the pool is saturated: connecting is the one step that may use the pool.
            Assert.True(node.TryGet(keys[0], out _));

            ThreadPool.GetMinThreads(out var minimum, out _);
            var readers = 2 * minimum;
            var wrong = 0;
            var tasks = Enumerable.Range(0, readers).Select(r => Task.Run(() =>
            {
                for (var round = 0; round < 20; round++)
                {
                    foreach (var key in keys)
                    {
                        if (!node.TryGet(key, out var value) || !value.Span.SequenceEqual(key))
                        {
                            Interlocked.Increment(ref wrong);
                        }
                    }

                    var values = new ReadOnlyMemory<byte>[batchKeys.Length];
                    var found = new bool[batchKeys.Length];
                    node.GetMany(batchKeys, values, found);
                    if (found.Any(f => !f))
                    {
                        Interlocked.Increment(ref wrong);
                    }
                }
            })).ToArray();

            await Task.WhenAll(tasks);
            Assert.Equal(0, wrong);
            Assert.False(node.Mesh!.Clients[1]!.Breaker.IsOpen);
        }
        finally
        {
            owner.Kill(entireProcessTree: true);
            await owner.WaitForExitAsync();
        }
    }
}
