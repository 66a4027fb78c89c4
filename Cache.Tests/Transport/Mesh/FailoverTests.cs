using System.Net;
using System.Text;
using Cache.Engine;
using Cache.Tests.Support;
using Cache.Transport;
using Cache.Transport.Peer;
using Cache.Transport.Server;

namespace Cache.Tests.Transport.Mesh;

/// <summary>
/// A member unreachable past FailoverAfter leaves the slot map, on the clock the options give (a manual one
/// here: the test moves it), only while this node reaches a majority; foreign keys are swept afterwards.
/// </summary>
public sealed class FailoverTests : IAsyncDisposable
{
    // Timestamps stay the system's: the test moves the clock by seconds while heartbeats are on their way, and a
    // peer's silence deadline measured on moved timestamps would count those seconds as the member's silence.
    private readonly ManualTimeProvider _clock = new(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero), manualTimestamps: false);
    private readonly CacheNode[] _nodes;
    private readonly PeerServer[] _servers;
    private readonly List<System.Net.Sockets.TcpListener> _graves = [];

    public FailoverTests()
    {
        _nodes = [.. Enumerable.Range(0, 3).Select(_ => new CacheNode(new CacheNodeOptions { Capacity = 16 << 20 }))];
        _servers = [.. _nodes.Select(n => new PeerServer(n, new PeerServerOptions()))];
        foreach (var server in _servers)
        {
            server.Start();
        }

        var members = _servers.Select(s => (EndPoint)s.EndPoint).ToArray();
        for (var rank = 0; rank < 3; rank++)
        {
            _nodes[rank].JoinMesh(members, rank, new PeerClientOptions
            {
                RequestTimeout = TimeSpan.FromSeconds(2),
                BreakerThreshold = 1,
                FailoverAfter = TimeSpan.FromSeconds(10),
                TimeProvider = _clock,
            });
        }
    }

    [Fact]
    public async Task A_member_down_past_FailoverAfter_leaves_the_map_and_its_keys_go_to_the_others()
    {
        await KillAsync(2);
        var node = _nodes[0];
        var keyOf2 = KeyOwnedBy(new SlotMap(3), 2);
        Assert.False(node.TryGet(keyOf2, out _));
        Assert.True(node.Mesh!.Clients[2]!.Breaker.IsOpen);

        _clock.Advance(TimeSpan.FromSeconds(9));
        node.CheckMembers();
        Assert.False(node.Mesh!.HasLeft(2));

        _clock.Advance(TimeSpan.FromSeconds(2));
        node.CheckMembers();
        var c1 = node.Mesh!.Clients[1]!;
        var c2 = node.Mesh.Clients[2]!;
        Assert.True(node.Mesh.HasLeft(2), $"member 1 open {c1.Breaker.IsOpen} failed {c1.FailedRequests}; member 2 open {c2.Breaker.IsOpen} for {c2.Breaker.OpenFor}");
        Assert.NotEqual(2, node.OwnerOf(keyOf2));
        Assert.True(node.Mesh.Slots.SameOwners(SlotMap.Without(3, [false, false, true])));

        // The key's new owner caches it again from the next write.
        node.SetMany([new(StoreKey.Copy(keyOf2), [1, 2, 3])], new SetResult[1]);
        Assert.True(node.TryGet(keyOf2, out var value));
        Assert.Equal([1, 2, 3], value.ToArray());
    }

    [Fact]
    public async Task A_member_that_reaches_no_majority_keeps_the_plain_map()
    {
        await KillAsync(1);
        await KillAsync(2);
        var node = _nodes[0];
        Assert.False(node.TryGet(KeyOwnedBy(new SlotMap(3), 1), out _));
        Assert.False(node.TryGet(KeyOwnedBy(new SlotMap(3), 2), out _));
        _clock.Advance(TimeSpan.FromSeconds(30));
        node.CheckMembers();
        Assert.False(node.Mesh!.HasLeft(1));
        Assert.False(node.Mesh.HasLeft(2));
        Assert.True(node.Mesh.Slots.SameOwners(new SlotMap(3)));
    }

    [Fact]
    public async Task After_a_change_of_the_map_the_keys_of_slots_another_member_owns_are_dropped()
    {
        var node = _nodes[1];
        var mine = KeyOwnedBy(new SlotMap(3), 1);
        var foreign = KeyOwnedBy(new SlotMap(3), 0);
        node.Store.Set(mine, "kept"u8);
        node.Store.Set(foreign, "stray"u8);
        await KillAsync(2);
        Assert.False(node.TryGet(KeyOwnedBy(new SlotMap(3), 2), out _));
        _clock.Advance(TimeSpan.FromSeconds(11));
        node.CheckMembers();
        Assert.True(node.Mesh!.HasLeft(2));
        await node.LastSweep;
        Assert.True(node.Store.ContainsKey(mine));
        Assert.False(node.Store.ContainsKey(foreign));
    }

    [Fact]
    public async Task Cluster_nodes_and_slots_show_the_current_map_and_the_member_that_left()
    {
        await KillAsync(2);
        var node = _nodes[0];
        Assert.False(node.TryGet(KeyOwnedBy(new SlotMap(3), 2), out _));
        _clock.Advance(TimeSpan.FromSeconds(11));
        node.CheckMembers();
        await using var resp = new RespHarness(node: node);
        await resp.SendAsync("CLUSTER NODES\r\n");
        var lines = ((string)(await resp.ReadAsync())!).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.EndsWith("myself,master - 0 0 1 connected 0-5460 10922-13652", lines[0], StringComparison.Ordinal);
        Assert.EndsWith(" master - 0 0 1 connected 5461-10921 13653-16383", lines[1], StringComparison.Ordinal);
        Assert.EndsWith(" master,fail - 0 0 1 disconnected", lines[2], StringComparison.Ordinal);
        await resp.SendAsync("CLUSTER SLOTS\r\n");
        var slots = (object?[])(await resp.ReadAsync())!;
        Assert.Equal([0L, 5461L, 10922L, 13653L], slots.Select(s => ((object?[])s!)[0]));

        // INFO cluster: one line per member with its state and the slots the current map gives it.
        await resp.SendAsync("INFO cluster\r\n");
        var info = ((string)(await resp.ReadAsync())!).Split("\r\n");
        Assert.Contains("mesh_members:3", info);
        Assert.Contains("mesh_members_left:1", info);
        Assert.Contains(info, l => l.StartsWith("mesh_member0:", StringComparison.Ordinal) && l.EndsWith(",state=self,slots=8192", StringComparison.Ordinal));
        Assert.Contains(info, l => l.StartsWith("mesh_member1:", StringComparison.Ordinal) && l.EndsWith(",state=up,slots=8192", StringComparison.Ordinal));
        Assert.Contains(info, l => l.StartsWith("mesh_member2:", StringComparison.Ordinal) && l.EndsWith(",state=left,slots=0", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Info_cluster_shows_a_member_whose_breaker_is_open_as_unreachable_with_its_slots_still_its_own()
    {
        await KillAsync(2);
        var node = _nodes[0];
        Assert.False(node.TryGet(KeyOwnedBy(new SlotMap(3), 2), out _));
        await using var resp = new RespHarness(node: node);
        await resp.SendAsync("INFO cluster\r\n");
        var info = ((string)(await resp.ReadAsync())!).Split("\r\n");
        Assert.Contains("mesh_members_left:0", info);
        Assert.Contains(info, l => l.StartsWith("mesh_member2:", StringComparison.Ordinal) && l.EndsWith(",state=unreachable,slots=5462", StringComparison.Ordinal));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var grave in _graves)
        {
            grave.Stop();
        }

        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }

        foreach (var node in _nodes)
        {
            node.Dispose();
        }
    }

    private async Task KillAsync(int rank)
    {
        var endPoint = _servers[rank].EndPoint;
        await _servers[rank].DisposeAsync();
        _nodes[rank].Dispose();

        // Keep the dead member's port: tests run in parallel, and another test's server given the same port
        // would answer this member's probes, so that it came back. Here every connection is closed at once.
        var grave = new System.Net.Sockets.TcpListener(endPoint);
        try
        {
            grave.Start();
        }
        catch (System.Net.Sockets.SocketException)
        {
            return;
        }

        _graves.Add(grave);
        _ = BuryAsync(grave);
    }

    private static async Task BuryAsync(System.Net.Sockets.TcpListener grave)
    {
        try
        {
            while (true)
            {
                (await grave.AcceptSocketAsync()).Dispose();
            }
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or ObjectDisposedException or InvalidOperationException)
        {
            // Stopped at the end of the test.
        }
    }

    private static byte[] KeyOwnedBy(SlotMap map, int rank)
    {
        for (var i = 0; ; i++)
        {
            var key = Encoding.UTF8.GetBytes($"k{i}");
            if (map.OwnerOfKey(key) == rank)
            {
                return key;
            }
        }
    }
}
