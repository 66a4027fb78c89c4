using Cache.Tests.Support;

namespace Cache.Tests.Transport.Mesh;

/// <summary>
/// A mesh member's INFO datasets (the mesh's figure for a plain client, the member's own beside it, as the keyspace
/// section) and CLUSTER replies in RESP2 and RESP3, shaped as Redis 7.0's: text as verbatim strings, SHARDS as maps,
/// SLOTS' node entries of four.
/// </summary>
public class MeshRespRepliesTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task A_plain_client_sees_each_datasets_keys_over_the_mesh_and_the_members_share(int protocol)
    {
        await using var mesh = TestMesh.Start(3);
        foreach (var node in mesh.Nodes)
        {
            node.TrackKeyPrefix("mnist:");
        }

        // One member counts a dataset the others do not track: it still shows, with the keys the mesh has of it.
        mesh.Nodes[2].TrackKeyPrefix("extra:");
        await using var plain = new RespHarness(node: mesh.Nodes[1]);
        await using var aware = new RespHarness(plain);
        await plain.RunAsync("HELLO", protocol.ToString(System.Globalization.CultureInfo.InvariantCulture));
        for (var i = 0; i < 120; i++)
        {
            await plain.RunAsync("SET", $"mnist:{i}", "v");
        }

        await plain.RunAsync("SET", "extra:{x}", "v");
        Assert.True(mesh.Nodes.All(n => n.Store.CountKeys("mnist:"u8) > 0));

        var own = mesh.Nodes[1].Store.CountKeys("mnist:"u8);
        var info = (string)(await plain.RunAsync("INFO", "datasets"))!;
        Assert.Contains("datasets:2\r\n", info, StringComparison.Ordinal);
        Assert.Contains("dataset_mnist:keys=120\r\n", info, StringComparison.Ordinal);
        Assert.Contains($"member_dataset_mnist:keys={own}\r\n", info, StringComparison.Ordinal);
        Assert.Contains($"dataset_extra:keys={mesh.Nodes[2].Store.CountKeys("extra:"u8)}\r\n", info, StringComparison.Ordinal);
        Assert.Contains("member_dataset_extra:keys=0\r\n", info, StringComparison.Ordinal);
        Assert.Contains("dataset_mnist:keys=120\r\n", (string)(await plain.RunAsync("INFO"))!, StringComparison.Ordinal);

        // A cluster-aware connection gets the member's own figures, as Redis Cluster's nodes answer.
        await aware.RunAsync("READONLY");
        var perNode = (string)(await aware.RunAsync("INFO", "datasets"))!;
        Assert.Contains($"dataset_mnist:keys={own}\r\n", perNode, StringComparison.Ordinal);
        Assert.DoesNotContain("member_", perNode, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_a_member_down_info_datasets_names_it()
    {
        var mesh = TestMesh.Start(3);
        try
        {
            await using var client = new RespHarness(node: mesh.Nodes[0]);
            var dead = mesh.Servers[2].EndPoint.ToString();
            await mesh.KillAsync(2);
            var error = Assert.IsType<Error>(await client.RunAsync("INFO", "datasets"));
            Assert.StartsWith("CLUSTERDOWN INFO datasets needs every member of the mesh, and " + dead, error.Text, StringComparison.Ordinal);
        }
        finally
        {
            await mesh.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Cluster_replies_have_redis_7_types(int protocol)
    {
        await using var mesh = TestMesh.Start(3);
        await using var client = new RespHarness(node: mesh.Nodes[1]);
        var three = protocol == 3;
        await client.RunAsync("HELLO", protocol.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Matches(three ? @"^=\d+\r\ntxt:cluster_enabled:1\r\ncluster_state:ok\r\n" : @"^\$\d+\r\ncluster_enabled:1\r\n", await client.RunRawAsync("CLUSTER", "INFO"));
        Assert.Matches(three ? @"^=\d+\r\ntxt:[0-9a-f]{40} 127\.0\.0\.1:\d+@\d+ " : @"^\$\d+\r\n[0-9a-f]{40} 127\.0\.0\.1:\d+@\d+ ", await client.RunRawAsync("CLUSTER", "NODES"));
        Assert.Matches(@"^\$40\r\n[0-9a-f]{40}\r\n$", await client.RunRawAsync("CLUSTER", "MYID"));

        // Each range: start, end, then the node: endpoint, port, id and a map of further endpoints (empty).
        var emptyMap = three ? "%0" : @"\*0";
        Assert.Matches($@"^\*3\r\n\*3\r\n:0\r\n:5460\r\n\*4\r\n\$9\r\n127\.0\.0\.1\r\n:\d+\r\n\$40\r\n[0-9a-f]{{40}}\r\n{emptyMap}\r\n\*3\r\n:5461\r\n", await client.RunRawAsync("CLUSTER", "SLOTS"));
        Assert.Matches(three ? @"^\*3\r\n%2\r\n\$5\r\nslots\r\n\*2\r\n:0\r\n:5460\r\n\$5\r\nnodes\r\n\*1\r\n%6\r\n\$2\r\nid\r\n" : @"^\*3\r\n\*4\r\n\$5\r\nslots\r\n\*2\r\n:0\r\n:5460\r\n\$5\r\nnodes\r\n\*1\r\n\*12\r\n\$2\r\nid\r\n", await client.RunRawAsync("CLUSTER", "SHARDS"));
    }
}
