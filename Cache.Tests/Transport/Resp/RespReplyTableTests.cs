using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Cache.Tests.Support;

namespace Cache.Tests.Transport.Resp;

/// <summary>
/// Runs <see cref="RespReplyTable"/>: every implemented command's success and error replies, byte for byte, under
/// RESP2 and under RESP3 (HELLO 3), so that a reply of the wrong type (a flat array for a map, <c>$-1</c> for
/// <c>_</c>, a bulk string for a verbatim one) fails as surely as a wrong value.
/// </summary>
public class RespReplyTableTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (var script in RespReplyTable.Scripts)
        {
            data.Add(script.Name, 2);
            data.Add(script.Name, 3);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task The_node_replies_as_the_table_says(string name, int protocol)
    {
        var script = RespReplyTable.Scripts.Single(s => s.Name == name);
        await using var h = new RespHarness(time: new ManualTimeProvider(Start));
        if (protocol == 3)
        {
            await h.RunRawAsync("HELLO", "3");
        }

        foreach (var step in script.Steps)
        {
            var expected = protocol == 3 ? step.Resp3 : step.Resp2;
            var actual = await h.RunRawAsync(step.Command);
            Assert.True(expected == actual, $"{name}: {string.Join(' ', step.Command)} under RESP{protocol}: expected {Escape(expected)}, got {Escape(actual)}");
        }
    }

    private static string Escape(string reply) => reply.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    [Fact]
    public void Every_command_of_the_table_is_in_a_script_in_both_a_success_and_an_error_case()
    {
        // Commands whose replies depend on the moment, the connection or the build (TIME, INFO's figures, CLIENT ID,
        // COMMAND's metadata, MONITOR's stream, QUIT's close) are tested elsewhere, with their types, not here.
        string[] elsewhere = ["time", "monitor", "quit", "lolwut", "cluster"];
        var covered = RespReplyTable.Scripts.SelectMany(s => s.Steps).Select(s => s.Command[0].ToLowerInvariant()).ToHashSet();
        var errors = RespReplyTable.Scripts.SelectMany(s => s.Steps).Where(s => s.Resp2.StartsWith('-')).Select(s => s.Command[0].ToLowerInvariant()).ToHashSet();
        var names = global::Cache.Transport.Resp.Commands.CommandTable.All.Select(c => c.Name).Except(elsewhere).ToList();
        Assert.Equal([], names.Except(covered));
        // INFO has no error reply: Redis accepts any section name (an unknown one gives empty text, in the table).
        Assert.Equal([], names.Except(errors).Except(["info"]));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Replies_that_depend_on_the_moment_or_the_connection_have_redis_types_under_both_protocols(int protocol)
    {
        // The commands the table leaves out, by the shape of their replies: RESP3 changes maps and text, nothing else.
        var three = protocol == 3;
        await using var h = new RespHarness();
        await using var other = new RespHarness(h);
        Assert.Matches(three ? @"^%7\r\n\$6\r\nserver\r\n" : @"^\*14\r\n\$6\r\nserver\r\n", await h.RunRawAsync("HELLO", protocol.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Matches(@"^\*2\r\n\$\d+\r\n\d+\r\n\$\d+\r\n\d+\r\n$", await h.RunRawAsync("TIME"));
        Assert.Matches(three ? @"^=\d+\r\ntxt:Redis ver\. [\d.]+\n\r\n$" : @"^\$\d+\r\nRedis ver\. [\d.]+\n\r\n$", await h.RunRawAsync("LOLWUT"));
        Assert.Matches(three ? @"^=\d+\r\ntxt:# Server\r\n" : @"^\$\d+\r\n# Server\r\n", await h.RunRawAsync("INFO"));
        Assert.Matches(three ? @"^=\d+\r\ntxt:id=\d+ addr=" : @"^\$\d+\r\nid=\d+ addr=", await h.RunRawAsync("CLIENT", "INFO"));
        Assert.Matches(three ? @"^=\d+\r\ntxt:id=\d+ addr=" : @"^\$\d+\r\nid=\d+ addr=", await h.RunRawAsync("CLIENT", "LIST"));
        Assert.Matches(@"^:\d+\r\n$", await h.RunRawAsync("CLIENT", "ID"));
        Assert.Matches(three ? @"^%1\r\n\$9\r\nmaxmemory\r\n\$\d+\r\n\d+\r\n$" : @"^\*2\r\n\$9\r\nmaxmemory\r\n", await h.RunRawAsync("CONFIG", "GET", "maxmemory"));
        Assert.Matches(three ? @"^%1\r\n\$3\r\nget\r\n%" : @"^\*2\r\n\$3\r\nget\r\n\*", await h.RunRawAsync("COMMAND", "DOCS", "get"));
        Assert.Matches(@"^\*1\r\n\*\d+\r\n\$3\r\nget\r\n:2\r\n", await h.RunRawAsync("COMMAND", "INFO", "get"));
        Assert.Matches(@"^:\d+\r\n$", await h.RunRawAsync("COMMAND", "COUNT"));
        Assert.Matches(three ? @"^%2\r\n\$14\r\nrunning_script\r\n_\r\n" : @"^\*4\r\n\$14\r\nrunning_script\r\n\$-1\r\n", await h.RunRawAsync("FUNCTION", "STATS"));
        Assert.Matches(@"^:15495\r\n$", await h.RunRawAsync("CLUSTER", "KEYSLOT", "a"));
        Assert.Matches(three ? @"^%\d+\r\n" : @"^\*\d+\r\n", await h.RunRawAsync("LATENCY", "HISTOGRAM"));

        // MONITOR's lines are simple strings in both protocols (Redis sends no push for them).
        Assert.Equal("+OK\r\n", await h.RunRawAsync("MONITOR"));
        await other.RunAsync("PING");
        Assert.Matches(@"^\+\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] ""PING""\r\n$", await h.ReadReplyTextAsync());

        await other.SendAsync(RespReply.Command("QUIT"));
        Assert.Equal("+OK\r\n", await other.ReadReplyTextAsync());
        Assert.True(await other.IsClosedAsync());
    }

    [RequiresExecutableFact("redis-server")]
    [Trait("Category", "Slow")]
    public async Task The_table_is_what_redis_server_replies()
    {
        using var redis = RedisServerProcess.Start();
        var mismatches = new List<string>();
        foreach (var script in RespReplyTable.Scripts)
        {
            foreach (var protocol in new[] { 2, 3 })
            {
                using var connection = await RawConnection.OpenAsync(redis.Port);
                await connection.RunAsync("FLUSHALL");
                if (protocol == 3)
                {
                    await connection.RunAsync("HELLO", "3");
                }

                foreach (var step in script.Steps)
                {
                    var reply = await connection.RunAsync(step.Command);
                    var expected = protocol == 3 ? step.Resp3 : step.Resp2;
                    if (step.DiffersFromRedis is null && reply != expected)
                    {
                        mismatches.Add($"{script.Name} RESP{protocol} {string.Join(' ', step.Command)}: redis {Escape(reply)}");
                    }
                }
            }
        }

        Assert.Empty(mismatches);
    }

    /// <summary>A plain socket to a server: sends a command, returns its reply's bytes as text.</summary>
    private sealed class RawConnection : IDisposable
    {
        private readonly Socket _socket;
        private byte[] _buffer = [];

        private RawConnection(Socket socket) => _socket = socket;

        public static async Task<RawConnection> OpenAsync(int port)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
            return new RawConnection(socket);
        }

        public async Task<string> RunAsync(params string[] command)
        {
            await _socket.SendAsync(RespReply.Command(command));
            var chunk = new byte[64 * 1024];
            while (true)
            {
                var sequence = new ReadOnlySequence<byte>(_buffer);
                if (RespReply.TryParse(ref sequence, out _))
                {
                    var length = _buffer.Length - (int)sequence.Length;
                    var text = Encoding.UTF8.GetString(_buffer, 0, length);
                    _buffer = _buffer[length..];
                    return text;
                }

                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                var read = await _socket.ReceiveAsync(chunk, timeout.Token);
                if (read == 0)
                {
                    throw new EndOfStreamException("The server closed the connection.");
                }

                _buffer = [.. _buffer, .. chunk.AsSpan(0, read)];
            }
        }

        public void Dispose() => _socket.Dispose();
    }
}
