using System.Text;
using Cache.Engine;
using Cache.Tests.Support;

namespace Cache.Tests.Transport.Mesh;

/// <summary>The one-cache rule: a plain connection to a mesh member sees the whole mesh; a cluster-aware one sees the member.</summary>
public class MeshOneCacheTests
{
    private static readonly SlotMap Map = new(3);

    private static async Task<List<string>> ScanAllAsync(RespHarness client, string count = "7", string? pattern = null)
    {
        var keys = new List<string>();
        var cursor = "0";
        do
        {
            var args = new List<string> { "SCAN", cursor, "COUNT", count };
            if (pattern is not null)
            {
                args.AddRange(["MATCH", pattern]);
            }

            var page = (object?[])(await client.RunAsync([.. args]))!;
            cursor = (string)page[0]!;
            keys.AddRange(((object?[])page[1]!).Cast<string>());
        }
        while (cursor != "0");
        return keys;
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task A_plain_and_a_cluster_aware_connection_on_the_same_member_count_and_scan_the_same_keys(int protocol)
    {
        await using var mesh = TestMesh.Start(3);
        await using var plain = new RespHarness(node: mesh.Nodes[1]);
        await using var aware = new RespHarness(plain);
        var p = protocol.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await plain.RunAsync("HELLO", p);
        await aware.RunAsync("HELLO", p);
        var written = Enumerable.Range(0, 300).Select(i => $"ds:{i}").ToArray();
        foreach (var key in written)
        {
            await plain.RunAsync("SET", key, "v");
        }

        await plain.RunAsync("SET", "other", "v");
        Assert.True(mesh.Nodes.All(n => n.Store.Count > 0));

        Assert.Equal(301L, await plain.RunAsync("DBSIZE"));
        Assert.Equal(written.Order(StringComparer.Ordinal), (await ScanAllAsync(plain, pattern: "ds:*")).Order(StringComparer.Ordinal));
        Assert.Equal(written.Order(StringComparer.Ordinal), ((object?[])(await plain.RunAsync("KEYS", "ds:*"))!).Cast<string>().Order(StringComparer.Ordinal));
        Assert.Contains("db0:keys=301,", (string)(await plain.RunAsync("INFO", "keyspace"))!, StringComparison.Ordinal);
        Assert.Contains($"member_db0:keys={mesh.Nodes[1].Store.Count},", (string)(await plain.RunAsync("INFO"))!, StringComparison.Ordinal);

        // Once it has asked for the layout, a connection gets Redis Cluster's per-node answers.
        await aware.RunAsync("CLUSTER", "SLOTS");
        var own = mesh.Nodes[1].Store.Count;
        Assert.Equal(own, await aware.RunAsync("DBSIZE"));
        Assert.Equal(own, (long)(await ScanAllAsync(aware)).Count);
        Assert.Equal(own, ((object?[])(await aware.RunAsync("KEYS", "*"))!).Length);

        // Summing the per-node answers over the members, as a cluster client does, counts every key once.
        long sum = 0;
        for (var rank = 0; rank < 3; rank++)
        {
            await using var node = new RespHarness(node: mesh.Nodes[rank]);
            await node.RunAsync("READONLY");
            sum += (long)(await node.RunAsync("DBSIZE"))!;
        }

        Assert.Equal(301L, sum);
    }

    [Fact]
    public async Task Scan_across_members_returns_every_key_present_throughout_exactly_once_while_keys_come_and_go()
    {
        await using var mesh = TestMesh.Start(3);
        await using var client = new RespHarness(node: mesh.Nodes[0]);
        await using var writer = new RespHarness(node: mesh.Nodes[2]);
        var stable = Enumerable.Range(0, 200).Select(i => $"stable:{i}").ToArray();
        foreach (var key in stable)
        {
            await writer.RunAsync("SET", key, "v");
        }

        var seen = new List<string>();
        var cursor = "0";
        var step = 0;
        do
        {
            // Between pages, other keys are added and removed on every member.
            await writer.RunAsync("SET", $"churn:{step}", "v");
            await writer.RunAsync("DEL", $"churn:{step - 3}");
            step++;
            var page = (object?[])(await client.RunAsync("SCAN", cursor, "COUNT", "5"))!;
            cursor = (string)page[0]!;
            seen.AddRange(((object?[])page[1]!).Cast<string>());
        }
        while (cursor != "0");

        var stableSeen = seen.Where(k => k.StartsWith("stable:", StringComparison.Ordinal)).ToList();
        Assert.Equal(stable.Length, stableSeen.Count);
        Assert.Equal(stable.Order(StringComparer.Ordinal), stableSeen.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Flushdb_through_one_member_leaves_nothing_on_any_member()
    {
        await using var mesh = TestMesh.Start(3);
        await using var client = new RespHarness(node: mesh.Nodes[0]);
        for (var i = 0; i < 60; i++)
        {
            await client.RunAsync("SET", $"k{i}", "v");
        }

        Assert.Equal(new Simple("OK"), await client.RunAsync("FLUSHDB"));
        Assert.All(mesh.Nodes, n => Assert.Equal(0L, n.Store.Count));
        Assert.Equal(0L, await client.RunAsync("DBSIZE"));
        Assert.Null(await client.RunAsync("RANDOMKEY"));
        await client.RunAsync("SET", "only", "v");
        Assert.Equal("only", await client.RunAsync("RANDOMKEY"));
    }

    [Fact]
    public async Task A_flush_with_a_member_down_fails_naming_it()
    {
        var mesh = TestMesh.Start(3);
        try
        {
            await using var client = new RespHarness(node: mesh.Nodes[0]);
            var dead = mesh.Servers[2].EndPoint.ToString();
            await client.RunAsync("SET", "k", "v");
            await mesh.KillAsync(2);
            var error = Assert.IsType<Error>(await client.RunAsync("FLUSHALL"));
            Assert.StartsWith("CLUSTERDOWN FLUSHALL needs every member of the mesh, and " + dead, error.Text, StringComparison.Ordinal);
            var count = Assert.IsType<Error>(await client.RunAsync("DBSIZE"));
            Assert.Contains(dead, count.Text, StringComparison.Ordinal);

            // The connection goes on, and a cluster-aware one still answers for its member.
            await client.RunAsync("READWRITE");
            Assert.IsType<long>(await client.RunAsync("DBSIZE"));
        }
        finally
        {
            await mesh.DisposeAsync();
        }
    }
}
