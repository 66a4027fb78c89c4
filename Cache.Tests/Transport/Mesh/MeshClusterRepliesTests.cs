using Cache.Tests.Support;

namespace Cache.Tests.Transport.Mesh;

/// <summary>CLUSTER's replies on a mesh member in RESP2 and RESP3, shaped as Redis 7.0's: text as verbatim strings, SHARDS as maps, SLOTS' node entries of four.</summary>
public class MeshClusterRepliesTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Cluster_replies_have_redis_7_types(int protocol)
    {
        await using var mesh = TestMesh.Start(3);
        await using var client = new RespHarness(node: mesh.Nodes[1]);
        var three = protocol == 3;
        await client.RunAsync("HELLO", protocol.ToString(System.Globalization.CultureInfo.InvariantCulture));
        async Task<string> Raw(params string[] command)
        {
            await client.SendAsync(RespReply.Command(command));
            return await client.ReadReplyTextAsync();
        }

        Assert.Matches(three ? @"^=\d+\r\ntxt:cluster_enabled:1\r\ncluster_state:ok\r\n" : @"^\$\d+\r\ncluster_enabled:1\r\n", await Raw("CLUSTER", "INFO"));
        Assert.Matches(three ? @"^=\d+\r\ntxt:[0-9a-f]{40} 127\.0\.0\.1:\d+@\d+ " : @"^\$\d+\r\n[0-9a-f]{40} 127\.0\.0\.1:\d+@\d+ ", await Raw("CLUSTER", "NODES"));
        Assert.Matches(@"^\$40\r\n[0-9a-f]{40}\r\n$", await Raw("CLUSTER", "MYID"));

        // Each range: start, end, then the node: endpoint, port, id and a map of further endpoints (empty).
        var emptyMap = three ? "%0" : @"\*0";
        Assert.Matches($@"^\*3\r\n\*3\r\n:0\r\n:5460\r\n\*4\r\n\$9\r\n127\.0\.0\.1\r\n:\d+\r\n\$40\r\n[0-9a-f]{{40}}\r\n{emptyMap}\r\n\*3\r\n:5461\r\n", await Raw("CLUSTER", "SLOTS"));
        Assert.Matches(three ? @"^\*3\r\n%2\r\n\$5\r\nslots\r\n\*2\r\n:0\r\n:5460\r\n\$5\r\nnodes\r\n\*1\r\n%6\r\n\$2\r\nid\r\n" : @"^\*3\r\n\*4\r\n\$5\r\nslots\r\n\*2\r\n:0\r\n:5460\r\n\$5\r\nnodes\r\n\*1\r\n\*12\r\n\$2\r\nid\r\n", await Raw("CLUSTER", "SHARDS"));
    }
}
