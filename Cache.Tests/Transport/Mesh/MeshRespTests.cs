using System.Text;
using Cache.Engine;
using Cache.Tests.Support;

namespace Cache.Tests.Transport.Mesh;

/// <summary>RESP on a mesh node: commands on keys another member owns are forwarded, multi-key commands split and merged.</summary>
public class MeshRespTests
{
    private static readonly SlotMap Map = new(3);

    /// <summary>The first keys "k:0", "k:1", ... owned by <paramref name="owner"/>.</summary>
    private static string[] KeysOwnedBy(int owner, int count) =>
        Enumerable.Range(0, 10_000).Select(i => $"k:{i}").Where(k => Map.OwnerOfKey(Encoding.UTF8.GetBytes(k)) == owner).Take(count).ToArray();

    private static bool Holds(TestMesh mesh, int rank, string key) => mesh.Nodes[rank].Store.ContainsKey(Encoding.UTF8.GetBytes(key));

    [Fact]
    public async Task Single_key_commands_on_keys_owned_elsewhere_run_on_the_owner()
    {
        await using var mesh = TestMesh.Start(3);
        await using var client = new RespHarness(node: mesh.Nodes[0]);
        var remote = KeysOwnedBy(2, 1)[0];

        Assert.Equal(new Simple("OK"), await client.RunAsync("SET", remote, "v1"));
        Assert.True(Holds(mesh, 2, remote));
        Assert.False(Holds(mesh, 0, remote));
        Assert.Equal("v1", await client.RunAsync("GET", remote));
        Assert.Equal(4L, await client.RunAsync("APPEND", remote, "23"));
        Assert.Equal("v123", await client.RunAsync("GETRANGE", remote, "0", "-1"));
        Assert.Equal(1L, await client.RunAsync("EXPIRE", remote, "100"));
        Assert.InRange((long)(await client.RunAsync("TTL", remote))!, 99L, 100L);
        Assert.Equal(new Simple("string"), await client.RunAsync("TYPE", remote));
        Assert.Equal(new Error("ERR value is not an integer or out of range"), await client.RunAsync("INCR", remote));
        Assert.Equal("v123", await client.RunAsync("GETDEL", remote));
        Assert.Null(await client.RunAsync("GET", remote));
        Assert.Equal(5L, await client.RunAsync("INCRBY", remote, "5"));
        Assert.True(await client.RunAsync("MEMORY", "USAGE", remote) is long);
        Assert.Null(await client.RunAsync("MEMORY", "USAGE", KeysOwnedBy(1, 1)[0]));

        // The node's own keyspace commands cover its own slots, as on a Redis Cluster node.
        Assert.Equal(0L, await client.RunAsync("DBSIZE"));
        Assert.Equal(1L, mesh.Nodes[2].Store.Count);
    }

    [Fact]
    public async Task Where_a_key_lands_agrees_with_cluster_keyslot_and_cluster_slots()
    {
        await using var mesh = TestMesh.Start(3);
        await using var client = new RespHarness(node: mesh.Nodes[1]);
        var ranges = ((object?[])(await client.RunAsync("CLUSTER", "SLOTS"))!).Cast<object?[]>()
            .Select(r => (Start: (long)r[0]!, End: (long)r[1]!, Port: (long)((object?[])r[2]!)[1]!))
            .ToArray();
        Assert.Equal(3, ranges.Length);
        for (var i = 0; i < 200; i++)
        {
            var key = $"slot-check:{i}";
            Assert.Equal(new Simple("OK"), await client.RunAsync("SET", key, "v"));
            var slot = (long)(await client.RunAsync("CLUSTER", "KEYSLOT", key))!;
            var port = ranges.Single(r => r.Start <= slot && slot <= r.End).Port;
            for (var rank = 0; rank < 3; rank++)
            {
                Assert.Equal(mesh.Servers[rank].EndPoint.Port == port, Holds(mesh, rank, key));
            }
        }
    }

    [Fact]
    public async Task Pipelined_commands_across_owners_are_answered_in_order()
    {
        await using var mesh = TestMesh.Start(3);
        await using var client = new RespHarness(node: mesh.Nodes[1]);
        var keys = Enumerable.Range(0, 60).Select(i => $"p:{i}").ToArray();
        var pipeline = keys.SelectMany(k => RespReply.Command("SET", k, "v-" + k)).Concat(keys.SelectMany(k => RespReply.Command("GET", k))).ToArray();
        await client.SendAsync(pipeline);
        foreach (var _ in keys)
        {
            Assert.Equal(new Simple("OK"), await client.ReadAsync());
        }

        foreach (var key in keys)
        {
            Assert.Equal("v-" + key, await client.ReadAsync());
        }

        Assert.All(keys, k => Assert.True(Holds(mesh, Map.OwnerOfKey(Encoding.UTF8.GetBytes(k)), k)));
        Assert.All(new[] { 0, 1, 2 }, rank => Assert.True(mesh.Nodes[rank].Store.Count > 5));
    }

    [Fact]
    public async Task Mget_mset_del_exists_and_unlink_over_several_owners_are_split_and_merged()
    {
        await using var mesh = TestMesh.Start(3);
        await using var client = new RespHarness(node: mesh.Nodes[0]);
        var keys = Enumerable.Range(0, 3).SelectMany(owner => KeysOwnedBy(owner, 2)).OrderBy(k => k.GetHashCode(StringComparison.Ordinal)).ToArray();

        Assert.Equal(new Simple("OK"), await client.RunAsync(["MSET", .. keys.SelectMany(k => new[] { k, "v-" + k })]));
        Assert.All(keys, k => Assert.True(Holds(mesh, Map.OwnerOfKey(Encoding.UTF8.GetBytes(k)), k)));

        // Order is the request's, with a missing key from each owner in between.
        string[] asked = [keys[0], "absent:a", keys[1], keys[2], "absent:b", keys[3], keys[4], keys[5], "absent:c"];
        var values = (object?[])(await client.RunAsync(["MGET", .. asked]))!;
        Assert.Equal(asked.Select(k => k.StartsWith("absent", StringComparison.Ordinal) ? null : "v-" + k), values);

        Assert.Equal(6L, await client.RunAsync(["EXISTS", .. keys]));
        Assert.Equal(7L, await client.RunAsync(["EXISTS", .. keys, keys[0], "absent:a"]));
        Assert.Equal(2L, await client.RunAsync("DEL", keys[0], keys[1], "absent:b"));
        Assert.Equal(4L, await client.RunAsync(["UNLINK", .. keys]));
        Assert.Equal(0L, await client.RunAsync(["EXISTS", .. keys]));
        Assert.All(mesh.Nodes, n => Assert.Equal(0L, n.Store.Count));
    }

    [Fact]
    public async Task Resp3_replies_of_the_owner_reach_the_client_in_its_protocol()
    {
        await using var mesh = TestMesh.Start(3);
        await using var client = new RespHarness(node: mesh.Nodes[0]);
        await client.RunAsync("HELLO", "3");
        var remote = KeysOwnedBy(1, 1)[0];
        var other = KeysOwnedBy(2, 1)[0];
        await client.SendAsync(RespReply.Command("GET", remote));
        await client.SendAsync(RespReply.Command("MGET", remote, other));

        // RESP3's null is "_\r\n", RESP2's "$-1\r\n": read the raw bytes.
        var raw = new StringBuilder();
        while (raw.Length < "_\r\n*2\r\n_\r\n_\r\n".Length)
        {
            raw.Append(await client.ReadRawAsync());
        }

        Assert.Equal("_\r\n*2\r\n_\r\n_\r\n", raw.ToString());
    }

    [Fact]
    public async Task A_forwarded_reply_past_the_owners_output_limit_is_an_error_not_a_huge_buffer()
    {
        await using var mesh = TestMesh.Start(3, maxOutputBuffer: 64 * 1024);
        await using var client = new RespHarness(node: mesh.Nodes[0]);
        var remote = KeysOwnedBy(1, 1)[0];
        Assert.Equal(new Simple("OK"), await client.RunAsync("SET", remote, new string('x', 1024)));
        var reply = await client.RunAsync(["MGET", .. Enumerable.Repeat(remote, 200)]);
        Assert.Equal(new Error("ERR the reply is larger than the client output buffer limit"), reply);

        // The owner's runner starts afresh: the next forwarded command works.
        Assert.Equal(1024L, await client.RunAsync("STRLEN", remote));
    }

    [Fact]
    public async Task An_owner_runs_only_key_commands_and_a_malformed_one_leaves_the_peer_connection_open()
    {
        await using var mesh = TestMesh.Start(2);
        mesh.Nodes[1].Store.Set("kept"u8, "v"u8);
        await using var peer = new Cache.Transport.Peer.PeerClient(mesh.Servers[1].EndPoint, new Cache.Transport.Peer.PeerClientOptions { RequestTimeout = TimeSpan.FromSeconds(5) });
        static byte[] Encode(params string[] args)
        {
            var bytes = new List<byte>();
            bytes.AddRange(BitConverter.GetBytes(2));
            bytes.AddRange(BitConverter.GetBytes(args.Length));
            foreach (var arg in args)
            {
                bytes.AddRange(BitConverter.GetBytes(arg.Length));
                bytes.AddRange(Encoding.UTF8.GetBytes(arg));
            }

            return [.. bytes];
        }

        Assert.Equal("-ERR only commands on keys are forwarded to their owner\r\n", Encoding.UTF8.GetString((await peer.ExecuteAsync(Encode("FLUSHALL")))!));
        Assert.Equal("-ERR only commands on keys are forwarded to their owner\r\n", Encoding.UTF8.GetString((await peer.ExecuteAsync(Encode("RESET")))!));
        Assert.Equal(1L, mesh.Nodes[1].Store.Count);
        Assert.Null(await peer.ExecuteAsync([1, 2, 3]));
        Assert.Equal("$1\r\nv\r\n", Encoding.UTF8.GetString((await peer.ExecuteAsync(Encode("GET", "kept")))!));
        Assert.True(await peer.PingAsync());
    }

    [Fact]
    public async Task Forwarded_commands_travel_on_their_own_connection_beside_the_data_path()
    {
        await using var mesh = TestMesh.Start(2);
        var remote = KeysOwnedBy(1, 1)[0];
        var results = new SetResult[1];
        mesh.Nodes[0].SetMany([new(StoreKey.Copy(Encoding.UTF8.GetBytes(remote)), [1, 2, 3])], results);
        Assert.Equal(SetResult.Added, results[0]);
        Assert.Equal(1, mesh.Servers[1].ClientCount);

        await using var client = new RespHarness(node: mesh.Nodes[0]);
        Assert.Equal(3L, await client.RunAsync("STRLEN", remote));
        Assert.Equal(2, mesh.Servers[1].ClientCount);
    }

    [Fact]
    public async Task Commands_that_cannot_be_split_over_owners_get_crossslot()
    {
        await using var mesh = TestMesh.Start(3);
        await using var client = new RespHarness(node: mesh.Nodes[0]);
        var a = KeysOwnedBy(1, 1)[0];
        var b = KeysOwnedBy(2, 1)[0];
        Assert.Equal(new Error("CROSSSLOT Keys in request don't hash to the same slot"), await client.RunAsync("MSETNX", a, "1", b, "2"));

        // Keys of one owner (hash tags keep them together) go to it whole.
        Assert.Equal(1L, await client.RunAsync("MSETNX", "{t}a", "1", "{t}b", "2"));
        var owner = Map.OwnerOfKey("t"u8);
        Assert.Equal(2L, mesh.Nodes[owner].Store.Count);
        Assert.Equal(new Error("ERR wrong number of arguments for 'mset' command"), await client.RunAsync("MSET", a, "1", b));
    }

    [Fact]
    public async Task A_dead_owner_gives_an_error_for_its_keys_and_the_connection_goes_on()
    {
        var mesh = TestMesh.Start(3);
        try
        {
            await using var client = new RespHarness(node: mesh.Nodes[0]);
            var dead = KeysOwnedBy(2, 1)[0];
            var alive = KeysOwnedBy(1, 1)[0];
            await mesh.KillAsync(2);

            var reply = await client.RunAsync("GET", dead);
            Assert.StartsWith("CLUSTERDOWN", Assert.IsType<Error>(reply).Text, StringComparison.Ordinal);
            Assert.StartsWith("CLUSTERDOWN", Assert.IsType<Error>(await client.RunAsync("MGET", alive, dead)).Text, StringComparison.Ordinal);
            Assert.Equal(new Simple("OK"), await client.RunAsync("SET", alive, "x"));
            Assert.Equal("x", await client.RunAsync("GET", alive));
        }
        finally
        {
            await mesh.DisposeAsync();
        }
    }

    [Fact]
    public async Task Forwarded_commands_pass_the_secret_check_and_a_password_protected_node_forwards_only_after_auth()
    {
        await using var mesh = TestMesh.Start(3, secret: "s3cret", requirePass: "pw");
        await using var client = new RespHarness(new PeerServerOptions { RequirePass = "pw" }, node: mesh.Nodes[0]);
        var remote = KeysOwnedBy(2, 1)[0];
        Assert.Equal(new Error("NOAUTH Authentication required."), await client.RunAsync("SET", remote, "v"));
        Assert.Equal(0L, mesh.Nodes[2].Store.Count);
        Assert.Equal(new Simple("OK"), await client.RunAsync("AUTH", "pw"));
        Assert.Equal(new Simple("OK"), await client.RunAsync("SET", remote, "v"));
        Assert.Equal("v", await client.RunAsync("GET", remote));
    }
}
