using Cache.Tests.Support;
using Cache.Transport;
using StackExchange.Redis;

namespace Cache.Tests.Transport.Resp;

public class StackExchangeRedisTests
{
    private static Task<ConnectionMultiplexer> ConnectAsync(TestServer server, string extra = "") =>
        ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{server.Port},abortConnect=true,connectTimeout=5000,allowAdmin=true{extra}");

    [Fact]
    public async Task A_real_client_connects_reads_and_writes()
    {
        await using var server = TestServer.Start();
        await using var mux = await ConnectAsync(server);
        var db = mux.GetDatabase();
        Assert.True(await db.StringSetAsync("greeting", "hello"));
        Assert.Equal("hello", (string?)await db.StringGetAsync("greeting"));
        Assert.True((await db.StringGetAsync("missing")).IsNull);
        Assert.Equal(5, await db.StringIncrementAsync("counter", 5));
        Assert.True(await db.KeyExpireAsync("greeting", TimeSpan.FromSeconds(100)));
        var ttl = await db.KeyTimeToLiveAsync("greeting");
        Assert.NotNull(ttl);
        Assert.InRange(ttl!.Value.TotalSeconds, 90, 100);
        var values = await db.StringGetAsync(["greeting", "counter", "missing"]);
        Assert.Equal(["hello", "5", RedisValue.Null], values);
        Assert.True(await db.KeyDeleteAsync("greeting"));
        Assert.False(await db.KeyExistsAsync("greeting"));
        var endpoint = mux.GetEndPoints()[0];
        var serverApi = mux.GetServer(endpoint);
        Assert.Equal(1, await serverApi.DatabaseSizeAsync());
        await serverApi.PingAsync();
    }

    [Fact]
    public async Task Many_concurrent_operations_through_one_multiplexer_get_their_own_answers()
    {
        await using var server = TestServer.Start();
        await using var mux = await ConnectAsync(server);
        var db = mux.GetDatabase();
        var writes = Enumerable.Range(0, 2000).Select(i => db.StringSetAsync($"key:{i}", new byte[i % 700].Select(_ => (byte)(i % 251)).ToArray()));
        Assert.All(await Task.WhenAll(writes), Assert.True);
        var reads = await Task.WhenAll(Enumerable.Range(0, 2000).Select(i => db.StringGetAsync($"key:{i}")));
        for (var i = 0; i < reads.Length; i++)
        {
            var bytes = (byte[])reads[i]!;
            Assert.Equal(i % 700, bytes.Length);
            Assert.All(bytes, b => Assert.Equal(i % 251, b));
        }
    }

    [Fact]
    public async Task Resp3_client_works()
    {
        await using var server = TestServer.Start();
        await using var mux = await ConnectAsync(server, ",protocol=resp3");
        var db = mux.GetDatabase();
        await db.StringSetAsync("k", "v");
        Assert.Equal("v", (string?)await db.StringGetAsync("k"));
        Assert.True((await db.StringGetAsync("none")).IsNull);
        Assert.Equal(RedisProtocol.Resp3, mux.GetServer(mux.GetEndPoints()[0]).Protocol);
    }

    [Fact]
    public async Task A_password_protected_node_accepts_the_right_password_and_refuses_a_wrong_one()
    {
        await using var server = TestServer.Start(new PeerServerOptions { RequirePass = "pw" });
        await using (var mux = await ConnectAsync(server, ",password=pw"))
        {
            Assert.True(await mux.GetDatabase().StringSetAsync("k", "v"));
        }

        await Assert.ThrowsAsync<RedisConnectionException>(() => ConnectAsync(server, ",password=wrong"));
    }
}
