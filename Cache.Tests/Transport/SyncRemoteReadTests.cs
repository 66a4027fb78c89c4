using System.Text;
using Cache.Engine;
using Cache.Tests.Support;

namespace Cache.Tests.Transport;

public class SyncRemoteReadTests
{
    [Fact]
    [Trait("Category", "Slow")]
    public async Task Synchronous_remote_reads_holding_every_minimum_pool_thread_get_their_replies_without_a_timeout()
    {
        await using var mesh = TestMesh.Start(2);
        var node = mesh.Nodes[0];
        var keys = Enumerable.Range(0, 4000)
            .Select(i => Encoding.UTF8.GetBytes($"sat:{i}"))
            .Where(k => node.Mesh!.Slots.OwnerOfKey(k) == 1)
            .Take(32)
            .ToArray();
        foreach (var key in keys)
        {
            mesh.Nodes[1].Store.Set(key, key);
        }

        // The connection exists before the pool is saturated: connecting is the one step that may use the pool.
        Assert.True(node.TryGet(keys[0], out _));

        ThreadPool.GetMinThreads(out var minimum, out _);
        var readers = 2 * minimum;
        var wrong = 0;
        var batchKeys = keys.Select(k => StoreKey.Copy(k)).ToArray();
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
}
