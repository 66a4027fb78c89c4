using System.Net;
using System.Net.Sockets;
using System.Text;
using Cache.Engine;
using Cache.Dataset;
using Cache.Transport;

namespace Cache.Tests.Transport.Mesh;

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
    public async Task A_compression_threshold_from_the_environment_reaches_the_mesh()
    {
        var basePort = Support.FreePort.Range(2);
        var starts = Enumerable.Range(0, 2).Select(rank =>
        {
            var env = Env(rank, 2, basePort, localRank: rank);
            env["CACHE_COMPRESS_ABOVE"] = "1024";
            return Task.Run(() => CacheNode.StartMesh(new CacheNodeOptions { Capacity = 16 << 20 }, MeshEnvironment.Read(env)));
        }).ToArray();
        var nodes = await Task.WhenAll(starts);
        try
        {
            Assert.Equal(1024, MeshEnvironment.Read(new Dictionary<string, string?>(Env(0, 2, basePort)) { ["CACHE_COMPRESS_ABOVE"] = "1024" }).CompressAbove);
            var value = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("compressible ", 2000)));
            var keys = Enumerable.Range(0, 40).Select(i => StoreKey.Copy(Encoding.ASCII.GetBytes($"z:{i}"))).ToArray();
            var results = new SetResult[keys.Length];
            nodes[0].SetMany(keys.Select(k => new KeyValuePair<StoreKey, byte[]>(k, value)).ToArray(), results);
            Assert.All(results, r => Assert.True(r.IsStored()));
            var values = new ReadOnlyMemory<byte>[keys.Length];
            var found = new bool[keys.Length];
            nodes[0].GetMany(keys, values, found);
            Assert.All(found, Assert.True);
            Assert.All(values, v => Assert.Equal(value, v.ToArray()));
            var remote = nodes[0].Mesh!.Clients[1]!;
            Assert.True(remote.BytesReceived < value.Length * 10, $"{remote.BytesReceived} bytes received for {keys.Length} values of {value.Length}");
            Assert.True(nodes[1].Store.Count > 5);
        }
        finally
        {
            Array.ForEach(nodes, n => n.Dispose());
        }
    }

    [Fact]
    public async Task A_mesh_member_commits_its_preallocation_once_it_has_joined()
    {
        var basePort = Support.FreePort.Range(2);
        var nodes = await Task.WhenAll(Enumerable.Range(0, 2).Select(rank =>
            Task.Run(() => CacheNode.StartMesh(new CacheNodeOptions { Capacity = 16 << 20, Preallocate = 8 << 20 }, MeshEnvironment.Read(Env(rank, 2, basePort, localRank: rank))))));
        try
        {
            Assert.All(nodes, n => Assert.Equal(8 << 20, n.Store.PreallocatedBytes));
            Assert.All(nodes, n => Assert.NotNull(n.Mesh));
        }
        finally
        {
            Array.ForEach(nodes, n => n.Dispose());
        }
    }

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
        Assert.Equal(0, parsed.CompressAbove);
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
