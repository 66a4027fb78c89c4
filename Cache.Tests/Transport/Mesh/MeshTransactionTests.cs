using System.Text;
using Cache.Engine;
using Cache.Tests.Support;

namespace Cache.Tests.Transport.Mesh;

/// <summary>Transactions on a mesh member: one owner runs the whole transaction; keys of several owners get CROSSSLOT.</summary>
public class MeshTransactionTests
{
    private static readonly SlotMap Map = new(3);
    private static readonly Simple Ok = new("OK");

    private static string[] KeysOwnedBy(int owner, int count) =>
        Enumerable.Range(0, 10_000).Select(i => $"k:{i}").Where(k => Map.OwnerOfKey(Encoding.UTF8.GetBytes(k)) == owner).Take(count).ToArray();

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task A_transaction_on_keys_of_one_other_member_runs_there_as_one_unit(int protocol)
    {
        await using var mesh = TestMesh.Start(3);
        await using var client = new RespHarness(node: mesh.Nodes[0]);
        await client.RunAsync("HELLO", protocol.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var keys = KeysOwnedBy(2, 2);
        Assert.Equal(Ok, await client.RunAsync("MULTI"));
        Assert.Equal(new Simple("QUEUED"), await client.RunAsync("SET", keys[0], "5"));
        Assert.Equal(new Simple("QUEUED"), await client.RunAsync("INCRBY", keys[0], "3"));
        Assert.Equal(new Simple("QUEUED"), await client.RunAsync("MSET", keys[1], "a", keys[0], "9"));
        Assert.Equal(new Simple("QUEUED"), await client.RunAsync("PING"));
        Assert.Equal(new object?[] { Ok, 8L, Ok, new Simple("PONG") }, await client.RunAsync("EXEC"));
        Assert.Equal("9"u8.ToArray(), mesh.Nodes[2].Store.TryGet(Encoding.UTF8.GetBytes(keys[0]), out var v) ? v.ToArray() : null);
        Assert.Equal(0L, mesh.Nodes[0].Store.Count);
    }

    [Fact]
    public async Task Keys_of_several_owners_get_crossslot_at_queue_time_or_at_exec()
    {
        await using var mesh = TestMesh.Start(3);
        await using var client = new RespHarness(node: mesh.Nodes[0]);
        var a = KeysOwnedBy(1, 1)[0];
        var b = KeysOwnedBy(2, 1)[0];

        // One command over two owners: refused while queueing, so EXEC aborts.
        await client.RunAsync("MULTI");
        Assert.Equal(new Error("CROSSSLOT Keys in request don't hash to the same slot"), await client.RunAsync("MGET", a, b));
        Assert.Equal(new Error("EXECABORT Transaction discarded because of previous errors."), await client.RunAsync("EXEC"));

        // Two commands, each on one owner, the owners different.
        await client.RunAsync("MULTI");
        await client.RunAsync("SET", a, "1");
        await client.RunAsync("SET", b, "2");
        Assert.Equal(new Error("EXECABORT Transaction discarded because of: CROSSSLOT Keys in request don't hash to the same slot"), await client.RunAsync("EXEC"));
        Assert.Equal(0L, mesh.Nodes[1].Store.Count + mesh.Nodes[2].Store.Count);
    }

    [Fact]
    public async Task A_transaction_on_this_members_keys_runs_here_with_watch()
    {
        await using var mesh = TestMesh.Start(3);
        await using var client = new RespHarness(node: mesh.Nodes[0]);
        var local = KeysOwnedBy(0, 1)[0];
        await client.RunAsync("SET", local, "1");
        Assert.Equal(Ok, await client.RunAsync("WATCH", local));
        await client.RunAsync("MULTI");
        await client.RunAsync("INCR", local);
        Assert.Equal(new object?[] { 2L }, await client.RunAsync("EXEC"));

        // WATCH of another member's key cannot compare versions from here: refused, with the reason.
        var remote = KeysOwnedBy(1, 1)[0];
        var refused = Assert.IsType<Error>(await client.RunAsync("WATCH", remote));
        Assert.StartsWith("ERR WATCH of a key another member of the mesh owns", refused.Text, StringComparison.Ordinal);
    }
}
