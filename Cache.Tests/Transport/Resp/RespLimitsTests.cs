using System.Text;
using Cache.Tests.Support;
using Cache.Transport;

namespace Cache.Tests.Transport.Resp;

public class RespLimitsTests
{
    private static async Task AssertErrorAndClosed(RespHarness h, string expected)
    {
        Assert.Equal(new Error(expected), await h.ReadAsync());
        Assert.True(await h.IsClosedAsync(), "the connection should be closed after a protocol error");
    }

    [Fact]
    public async Task Bulk_longer_than_the_limit_is_refused_before_it_is_buffered()
    {
        await using var h = new RespHarness(new PeerServerOptions { MaxBulkLength = 1000 });
        await h.SendAsync("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1001\r\n");
        await AssertErrorAndClosed(h, "ERR Protocol error: invalid bulk length");
    }

    [Fact]
    public async Task Multibulk_longer_than_the_limit_is_refused()
    {
        await using var h = new RespHarness(new PeerServerOptions { MaxMultibulkLength = 4 });
        await h.SendAsync("*5\r\n");
        await AssertErrorAndClosed(h, "ERR Protocol error: invalid multibulk length");
    }

    [Fact]
    public async Task Inline_command_longer_than_the_limit_is_refused()
    {
        await using var h = new RespHarness(new PeerServerOptions { MaxInlineLength = 1024 });
        await h.SendAsync(new string('x', 2000));
        await AssertErrorAndClosed(h, "ERR Protocol error: too big inline request");
    }

    [Fact]
    public async Task Query_buffer_limit_closes_a_client_that_sends_an_endless_frame()
    {
        await using var h = new RespHarness(new PeerServerOptions { MaxQueryBuffer = 100_000 });
        await h.SendAsync("*2\r\n$3\r\nGET\r\n$1000000\r\n");
        var chunk = new string('z', 40_000);
        for (var i = 0; i < 3; i++)
        {
            await h.SendAsync(chunk);
        }

        await AssertErrorAndClosed(h, "ERR Protocol error: client query buffer limit exceeded");
    }

    [Fact]
    public async Task Output_buffer_limit_closes_a_client_whose_replies_exceed_it()
    {
        await using var h = new RespHarness(new PeerServerOptions { MaxOutputBuffer = 64 * 1024 });
        for (var i = 0; i < 50; i++)
        {
            h.Store.Set(Encoding.ASCII.GetBytes($"k{i}"), new byte[4096]);
        }

        // One reply of 50 x 4 KB is larger than the whole limit.
        var keys = Enumerable.Range(0, 50).Select(i => $"k{i}").Prepend("MGET").ToArray();
        await h.SendAsync(RespReply.Command(keys));
        Assert.True(await h.IsClosedAsync());
        Assert.True(h.Connection.Overflowed);
    }

    [Fact]
    public async Task A_short_mget_asking_for_a_huge_reply_is_stopped_at_the_output_limit()
    {
        await using var h = new RespHarness(new PeerServerOptions { MaxOutputBuffer = 256 * 1024 });
        h.Store.Set("big"u8, new byte[100_000]);
        var keys = Enumerable.Repeat("big", 10_000).Prepend("MGET").ToArray();
        await h.SendAsync(RespReply.Command(keys));
        Assert.True(await h.IsClosedAsync());
        Assert.True(h.Connection.Overflowed);
    }

    [Fact]
    public async Task A_command_arriving_one_element_at_a_time_is_parsed_incrementally()
    {
        await using var h = new RespHarness();
        const int Pairs = 20_000;
        await h.SendAsync($"*{1 + (2 * Pairs)}\r\n$4\r\nMSET\r\n");
        for (var i = 0; i < Pairs; i++)
        {
            await h.SendAsync(RespReply.Command($"k{i}", $"v{i}").AsMemory()[(RespReply.Command($"k{i}", $"v{i}").AsSpan().IndexOf((byte)'\n') + 1)..]);
        }

        Assert.Equal(new Simple("OK"), await h.ReadAsync());
        Assert.Equal("v12345", await h.RunAsync("GET", "k12345"));
        Assert.Equal((long)Pairs, await h.RunAsync("DBSIZE"));
    }

    [Fact]
    public async Task Malformed_frame_gets_the_error_and_the_connection_is_closed()
    {
        await using var h = new RespHarness();
        await h.SendAsync("*1\r\n+PING\r\n");
        await AssertErrorAndClosed(h, "ERR Protocol error: expected '$', got '+'");
    }

    [Fact]
    public async Task Commands_before_a_protocol_error_are_answered()
    {
        await using var h = new RespHarness();
        await h.SendAsync("PING\r\n*1\r\n$x\r\n");
        Assert.Equal(new Simple("PONG"), await h.ReadAsync());
        await AssertErrorAndClosed(h, "ERR Protocol error: invalid bulk length");
    }

    [Fact]
    public void Invalid_server_options_throw_naming_the_option()
    {
        using var node = new CacheNode(new CacheNodeOptions { Capacity = 1 << 20 });
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new PeerServer(node, new PeerServerOptions { Port = 70000 }));
        Assert.Equal("Port", ex.ParamName);
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => new PeerServer(node, new PeerServerOptions { MaxClients = 0 }));
        Assert.Equal("MaxClients", ex.ParamName);
    }
}
