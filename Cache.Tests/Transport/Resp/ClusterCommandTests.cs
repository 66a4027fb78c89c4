using System.Net;
using System.Text;
using Cache.Engine;
using Cache.Tests.Support;
using Cache.Transport;
using Cache.Transport.Peer;
using StackExchange.Redis;

namespace Cache.Tests.Transport.Resp;

public class ClusterCommandTests
{
    [Fact]
    public async Task Keyslot_matches_redis_and_a_standalone_node_says_cluster_support_is_disabled()
    {
        await using var h = new RespHarness();
        Assert.Equal(12182L, await h.RunAsync("CLUSTER", "KEYSLOT", "foo"));
        Assert.Equal((long)HashSlot.GetSlot("{user1000}.following"u8), await h.RunAsync("CLUSTER", "KEYSLOT", "{user1000}.followers"));
        Assert.Equal(new Error("ERR This instance has cluster support disabled"), await h.RunAsync("CLUSTER", "SLOTS"));
    }

    [Fact]
    public async Task StackExchange_Redis_in_cluster_mode_reads_and_writes_keys_of_every_slot_range_on_a_3_node_mesh()
    {
        await using var mesh = TestMesh.Start(3);
        var nodes = mesh.Nodes;
        await using var mux = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{mesh.Servers[0].EndPoint.Port},abortConnect=true,connectTimeout=5000");
        Assert.Equal(ServerType.Cluster, mux.GetServer(mux.GetEndPoints()[0]).ServerType);
        var db = mux.GetDatabase();
        var map = new SlotMap(3);
        var perOwner = new int[3];
        for (var i = 0; i < 300; i++)
        {
            var key = $"sample:{i}";
            Assert.True(await db.StringSetAsync(key, $"v{i}"));
            perOwner[map.OwnerOfKey(Encoding.UTF8.GetBytes(key))]++;
        }

        for (var i = 0; i < 300; i++)
        {
            var key = $"sample:{i}";
            Assert.Equal($"v{i}", (string?)await db.StringGetAsync(key));
            Assert.True(nodes[map.OwnerOfKey(Encoding.UTF8.GetBytes(key))].Store.ContainsKey(Encoding.UTF8.GetBytes(key)));
        }

        Assert.All(perOwner, count => Assert.True(count > 50));
        Assert.Equal(perOwner, nodes.Select(n => (int)n.Store.Count).ToArray());
    }
}
