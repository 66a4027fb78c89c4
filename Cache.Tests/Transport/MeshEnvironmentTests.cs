using System.Net;
using System.Net.Sockets;
using Cache.Dataset;
using Cache.Transport;

namespace Cache.Tests.Transport;

public class MeshEnvironmentTests
{
    private static Dictionary<string, string?> Env(int rank, int worldSize, int basePort, int localRank = 0) => new()
    {
        ["WORLD_SIZE"] = worldSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["RANK"] = rank.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["LOCAL_RANK"] = localRank.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["MASTER_ADDR"] = "127.0.0.1",
        ["CACHE_PORT"] = basePort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["CACHE_SECRET"] = "env-secret",
        ["CACHE_RENDEZVOUS_TIMEOUT"] = "20",

        // Generous: the test machine runs other tests at the same time, and a late answer would be a miss.
        ["CACHE_REQUEST_TIMEOUT_MS"] = "5000",
    };

    [Fact]
    public void Missing_or_malformed_variables_are_named()
    {
        var env = Env(0, 2, 7000);
        env.Remove("CACHE_PORT");
        Assert.Contains("CACHE_PORT", Assert.Throws<InvalidOperationException>(() => MeshEnvironment.Read(env)).Message, StringComparison.Ordinal);
        env = Env(0, 2, 7000);
        env["RANK"] = "2";
        Assert.Contains("RANK", Assert.Throws<InvalidOperationException>(() => MeshEnvironment.Read(env)).Message, StringComparison.Ordinal);
        env = Env(0, 2, 7000);
        env.Remove("MASTER_ADDR");
        Assert.Contains("MASTER_ADDR", Assert.Throws<InvalidOperationException>(() => MeshEnvironment.Read(env)).Message, StringComparison.Ordinal);
        var parsed = MeshEnvironment.Read(Env(1, 4, 7000, localRank: 3));
        Assert.Equal(7003, parsed.Port);
        Assert.Equal(TimeSpan.FromSeconds(5), parsed.RequestTimeout);
        env = Env(0, 2, 7000);
        env.Remove("CACHE_REQUEST_TIMEOUT_MS");
        Assert.Equal(TimeSpan.FromMilliseconds(50), MeshEnvironment.Read(env).RequestTimeout);
        env["CACHE_REQUEST_TIMEOUT_MS"] = "0";
        Assert.Contains("CACHE_REQUEST_TIMEOUT_MS", Assert.Throws<InvalidOperationException>(() => MeshEnvironment.Read(env)).Message, StringComparison.Ordinal);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 7000), parsed.MasterEndPoint());
    }

    [Fact]
    public async Task Processes_started_from_the_launchers_environment_form_a_mesh_through_rank_0()
    {
        // Three "processes" of one job, each with its own node, started concurrently from their environments.
        var basePort = Support.FreePort.Range(3);

        var starts = Enumerable.Range(0, 3).Select(rank => Task.Run(() =>
            CacheNode.StartMesh(new CacheNodeOptions { Capacity = 16 << 20 }, MeshEnvironment.Read(Env(rank, 3, basePort, localRank: rank))))).ToArray();
        var nodes = await Task.WhenAll(starts);
        try
        {
            Assert.All(nodes, n => Assert.Equal(3, n.Mesh!.Clients.Count));
            using var writer = new CachedDataset<string>(Enumerable.Range(0, 60).Select(i => $"s{i}").ToArray(), new CacheOptions { DatasetName = "env", Node = nodes[2], WriterBufferSize = 1 });
            for (var i = 0; i < 60; i++)
            {
                Assert.Equal($"s{i}", writer[i]);
            }

            using var reader = new CachedDataset<string>(new string[60], new CacheOptions { DatasetName = "env", Node = nodes[0] });
            for (var i = 0; i < 60; i++)
            {
                Assert.Equal($"s{i}", reader[i]);
            }
        }
        finally
        {
            Array.ForEach(nodes, n => n.Dispose());
        }
    }
}
