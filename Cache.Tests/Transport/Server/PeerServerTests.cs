using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Cache.Engine;
using Cache.Tests.Support;
using Cache.Transport;

namespace Cache.Tests.Transport.Server;

public class PeerServerTests
{
    private static async Task<string> ReadUntilClosedAsync(Socket socket)
    {
        var received = new MemoryStream();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            if (n == 0)
            {
                return Encoding.UTF8.GetString(received.ToArray());
            }

            received.Write(buffer, 0, n);
        }
    }

    [Fact]
    public void A_negative_send_low_watermark_is_refused_naming_the_option()
    {
        using var node = new CacheNode(new CacheNodeOptions { Capacity = 1 << 20 });
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new PeerServer(node, new PeerServerOptions { SendLowWatermark = -1 }));
        Assert.Equal(nameof(PeerServerOptions.SendLowWatermark), ex.ParamName);
    }

    [LinuxFact]
    public async Task The_send_low_watermark_reaches_the_kernel_on_linux()
    {
        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        listener.Listen();
        using var client = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        using var accepted = await listener.AcceptAsync();

        SocketPumps.LimitUnsentBytes(accepted, 16 * 1024);

        var value = new byte[sizeof(int)];
        Assert.Equal(sizeof(int), accepted.GetRawSocketOption((int)SocketOptionLevel.Tcp, 25, value));
        Assert.Equal(16 * 1024, BitConverter.ToInt32(value));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Replies_far_larger_than_the_send_low_watermark_arrive_whole_and_in_order(bool slowReader)
    {
        // The watermark makes the server hand a large reply to the kernel in many short sends.
        await using var server = TestServer.Start(new PeerServerOptions { SendLowWatermark = 4096 });
        using var socket = await server.ConnectAsync();
        var values = new[] { 'a', 'b', 'c' }.Select(c => new string(c, 3_000_000)).ToArray();
        var request = new StringBuilder();
        for (var i = 0; i < values.Length; i++)
        {
            request.Append(CultureInfo.InvariantCulture, $"*3\r\n$3\r\nSET\r\n$2\r\nk{i}\r\n${values[i].Length}\r\n{values[i]}\r\n");
        }

        for (var i = 0; i < values.Length; i++)
        {
            request.Append(CultureInfo.InvariantCulture, $"*2\r\n$3\r\nGET\r\n$2\r\nk{i}\r\n");
        }

        var sending = socket.SendAsync(Encoding.ASCII.GetBytes(request.ToString()), SocketFlags.None);
        var expected = "+OK\r\n+OK\r\n+OK\r\n" + string.Concat(values.Select(v => $"${v.Length}\r\n{v}\r\n"));
        var received = new MemoryStream();
        var buffer = new byte[8192];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (received.Length < expected.Length)
        {
            // Read slowly at first, so that the server finds the socket full and has to wait for room.
            if (slowReader && received.Length < 200_000)
            {
                await Task.Delay(1, timeout.Token);
            }

            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            Assert.NotEqual(0, n);
            received.Write(buffer, 0, n);
        }

        await sending;
        Assert.Equal(expected, Encoding.ASCII.GetString(received.ToArray()));
    }

    [Fact]
    public async Task Garbage_gets_a_protocol_error_and_closes_only_that_connection()
    {
        await using var server = TestServer.Start();
        using var good = await server.ConnectAsync();
        using var bad = await server.ConnectAsync();
        await bad.SendAsync(Encoding.ASCII.GetBytes("*1\r\n$-5\r\n"), SocketFlags.None);
        Assert.Equal("-ERR Protocol error: invalid bulk length\r\n", await ReadUntilClosedAsync(bad));

        await good.SendAsync(Encoding.ASCII.GetBytes("PING\r\n"), SocketFlags.None);
        var buffer = new byte[64];
        var n = await good.ReceiveAsync(buffer, SocketFlags.None);
        Assert.Equal("+PONG\r\n", Encoding.ASCII.GetString(buffer, 0, n));
    }

    [Fact]
    public async Task A_client_that_disconnects_mid_frame_leaks_nothing()
    {
        await using var server = TestServer.Start();
        for (var i = 0; i < 20; i++)
        {
            using var socket = await server.ConnectAsync();
            await socket.SendAsync(Encoding.ASCII.GetBytes("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n" + new string('x', 50_000)), SocketFlags.None);
            socket.Close();
        }

        Assert.True(await server.WaitForClientsAsync(0), $"clients still registered: {server.Server.ClientCount}");
        Assert.Equal(0, server.Node.Store.Count);
        using var check = await server.ConnectAsync();
        await check.SendAsync(Encoding.ASCII.GetBytes("DBSIZE\r\n"), SocketFlags.None);
        var buffer = new byte[64];
        var n = await check.ReceiveAsync(buffer, SocketFlags.None);
        Assert.Equal(":0\r\n", Encoding.ASCII.GetString(buffer, 0, n));
    }

    [Fact]
    public async Task Clients_over_the_limit_get_an_error_and_are_closed()
    {
        await using var server = TestServer.Start(new PeerServerOptions { MaxClients = 2 });
        using var a = await server.ConnectAsync();
        using var b = await server.ConnectAsync();
        Assert.True(await server.WaitForClientsAsync(2));
        using var c = await server.ConnectAsync();
        Assert.Equal("-ERR max number of clients reached\r\n", await ReadUntilClosedAsync(c));
    }

    [Fact]
    public async Task A_burst_of_connections_never_gets_more_clients_than_the_limit()
    {
        await using var server = TestServer.Start(new PeerServerOptions { MaxClients = 3 });
        var sockets = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => server.ConnectAsync()));
        try
        {
            // A refused connection gets the error unasked; a served one hears nothing until it asks.
            Assert.True(await server.WaitForClientsAsync(3));
            var first = await Task.WhenAll(sockets.Select(async s =>
            {
                using var quiet = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                var buffer = new byte[64];
                try
                {
                    var n = await s.ReceiveAsync(buffer, SocketFlags.None, quiet.Token);
                    return Encoding.ASCII.GetString(buffer, 0, n);
                }
                catch (OperationCanceledException)
                {
                    return null;
                }
            }));
            Assert.Equal(37, first.Count(r => r is not null && r.StartsWith("-ERR max number of clients reached", StringComparison.Ordinal)));
            var served = sockets.Where((_, i) => first[i] is null).ToArray();
            Assert.Equal(3, served.Length);
            foreach (var socket in served)
            {
                await socket.SendAsync(Encoding.ASCII.GetBytes("PING\r\n"), SocketFlags.None);
                var buffer = new byte[64];
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None);
                Assert.Equal("+PONG\r\n", Encoding.ASCII.GetString(buffer, 0, n));
            }
        }
        finally
        {
            Array.ForEach(sockets, s => s.Dispose());
        }
    }

    [Fact]
    public async Task A_connection_opening_with_the_peer_preamble_is_closed_while_resp_goes_on()
    {
        await using var server = TestServer.Start();
        using var peer = await server.ConnectAsync();
        await peer.SendAsync(new byte[] { PeerServer.PeerPreambleByte, 1, 2, 3 }, SocketFlags.None);
        Assert.Equal("", await ReadUntilClosedAsync(peer));
    }

    [Fact]
    public async Task Pipelined_commands_over_a_socket_are_answered_in_order()
    {
        await using var server = TestServer.Start();
        using var socket = await server.ConnectAsync();
        var request = new StringBuilder();
        for (var i = 0; i < 1000; i++)
        {
            request.Append(Encoding.ASCII.GetString(RespReply.Command("SET", $"k{i}", $"v{i}")));
            request.Append(Encoding.ASCII.GetString(RespReply.Command("GET", $"k{i}")));
        }

        request.Append("QUIT\r\n");
        await socket.SendAsync(Encoding.ASCII.GetBytes(request.ToString()), SocketFlags.None);
        var text = await ReadUntilClosedAsync(socket);
        var expected = new StringBuilder();
        for (var i = 0; i < 1000; i++)
        {
            expected.Append("+OK\r\n$").Append($"v{i}".Length).Append("\r\n").Append($"v{i}\r\n");
        }

        expected.Append("+OK\r\n");
        Assert.Equal(expected.ToString(), text);
    }
}
