using Cache.Tests.Support;

namespace Cache.Tests.Transport.Mesh;

/// <summary>INFO's datasets section on a mesh member: the mesh's figure for a plain client, the member's own beside it, as the keyspace section.</summary>
public class MeshInfoDatasetsTests
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
}
