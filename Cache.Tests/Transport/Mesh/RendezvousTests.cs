using System.Net;
using Cache.Dataset;
using Cache.Transport;
using Cache.Transport.Peer;

namespace Cache.Tests.Transport.Mesh;

public class RendezvousTests
{
    [Fact]
    public async Task Every_rank_gets_the_same_table_and_the_mesh_forms_from_it()
    {
        var nodes = Enumerable.Range(0, 3).Select(_ => new CacheNode(new CacheNodeOptions { Capacity = 16 << 20 })).ToArray();
        var servers = nodes.Select(n => new PeerServer(n, new PeerServerOptions { Secret = "s" })).ToArray();
        try
        {
            foreach (var server in servers)
            {
                server.Start();
            }

            servers[0].HostRendezvous(new RendezvousBoard(3));
            var options = new PeerClientOptions { Secret = "s", RequestTimeout = TimeSpan.FromSeconds(2) };
            var tables = await Task.WhenAll(Enumerable.Range(0, 3).Select(rank =>
                Rendezvous.GatherAsync(servers[0].EndPoint, rank, 3, servers[rank].EndPoint, options, TimeSpan.FromSeconds(20))));
            foreach (var table in tables)
            {
                Assert.Equal(servers.Select(s => (EndPoint)s.EndPoint), table);
            }

            for (var rank = 0; rank < 3; rank++)
            {
                nodes[rank].JoinMesh(tables[rank], rank, options);
            }

            using var writer = new CachedDataset<int>(Enumerable.Range(0, 100).ToArray(), new CacheOptions { DatasetName = "rv", Node = nodes[1], WriterBufferSize = 1 });
            for (var i = 0; i < 100; i++)
            {
                Assert.Equal(i, writer[i]);
            }

            using var reader = new CachedDataset<int>(new int[100], new CacheOptions { DatasetName = "rv", Node = nodes[2] });
            for (var i = 0; i < 100; i++)
            {
                Assert.Equal(i, reader[i]);
            }
        }
        finally
        {
            foreach (var server in servers)
            {
                await server.DisposeAsync();
            }

            Array.ForEach(nodes, n => n.Dispose());
        }
    }

    [Fact]
    public async Task A_rendezvous_missing_a_rank_fails_with_a_message_naming_it()
    {
        using var node = new CacheNode(new CacheNodeOptions { Capacity = 1 << 20 });
        await using var server = new PeerServer(node, new PeerServerOptions());
        server.Start();
        var board = new RendezvousBoard(3);
        server.HostRendezvous(board);
        var options = new PeerClientOptions();
        var gathering = new[] { 0, 1 }.Select(rank =>
            Rendezvous.GatherAsync(server.EndPoint, rank, 3, new IPEndPoint(IPAddress.Loopback, 40000 + rank), options, TimeSpan.FromSeconds(5))).ToArray();

        // Both present ranks must have joined before the timeout for the message to name only rank 2 (on a
        // starved machine a first join could take most of a short timeout); the test looks, not times.
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (board.Snapshot().Joined.Length < 2)
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), "ranks 0 and 1 never joined");
            await Task.Delay(5);
        }

        foreach (var attempt in gathering)
        {
            var ex = await Assert.ThrowsAsync<TimeoutException>(() => attempt);
            Assert.Contains("rank 2 of 3 never joined", ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_rank_that_does_not_fit_the_job_is_refused()
    {
        using var node = new CacheNode(new CacheNodeOptions { Capacity = 1 << 20 });
        await using var server = new PeerServer(node, new PeerServerOptions());
        server.Start();
        server.HostRendezvous(new RendezvousBoard(2));
        await Assert.ThrowsAsync<PeerRefusedException>(() =>
            Rendezvous.GatherAsync(server.EndPoint, 5, 2, new IPEndPoint(IPAddress.Loopback, 40000), new PeerClientOptions(), TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Nobody_at_the_rendezvous_point_fails_saying_so()
    {
        var ex = await Assert.ThrowsAsync<TimeoutException>(() =>
            Rendezvous.GatherAsync(new IPEndPoint(IPAddress.Loopback, 1), 1, 2, new IPEndPoint(IPAddress.Loopback, 40001), new PeerClientOptions(), TimeSpan.FromMilliseconds(500)));
        Assert.Contains("rank 0", ex.Message, StringComparison.Ordinal);
    }
}
