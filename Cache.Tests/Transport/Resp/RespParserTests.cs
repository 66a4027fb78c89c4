using System.Text;
using Cache.Tests.Support;
using Cache.Transport.Resp;

namespace Cache.Tests.Transport.Resp;

public class RespParserTests
{
    private static ParseStatus Parse(string text, out RespRequest request, out string? error, bool authenticated = true, RespLimits? limits = null)
    {
        request = new RespRequest();
        return RespParser.TryParse(Encoding.UTF8.GetBytes(text), request, limits ?? RespLimits.Default, authenticated, out _, out _, out error);
    }

    private static string[] Args(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var request = new RespRequest();
        Assert.Equal(ParseStatus.Complete, RespParser.TryParse(bytes, request, RespLimits.Default, true, out _, out _, out _));
        ReadOnlySpan<byte> source = request.IsInline ? request.InlineBytes : bytes;
        var args = new string[request.Count];
        for (var i = 0; i < args.Length; i++)
        {
            var range = request.Args[i];
            args[i] = Encoding.UTF8.GetString(source.Slice(range.Start, range.Length));
        }

        return args;
    }

    [Fact]
    public void Multibulk_command_is_parsed_with_binary_safe_arguments()
    {
        Assert.Equal(["SET", "k\r\ney", ""], Args("*3\r\n$3\r\nSET\r\n$5\r\nk\r\ney\r\n$0\r\n\r\n"));
    }

    [Theory]
    [InlineData("PING\r\n", new[] { "PING" })]
    [InlineData("set  a   b\n", new[] { "set", "a", "b" })]
    [InlineData("set k \"a b\\x41\\n\"\r\n", new[] { "set", "k", "a bA\n" })]
    [InlineData("echo 'it\\'s'\r\n", new[] { "echo", "it's" })]
    public void Inline_commands_split_as_redis_does(string line, string[] expected)
    {
        Assert.Equal(expected, Args(line));
    }

    [Theory]
    [InlineData("*2\r\n$3\r\nGET\r\n$3\r\nfo")]
    [InlineData("*2\r\n$3\r\nGET\r\n$3\r\n")]
    [InlineData("*2\r\n$3\r\nGET\r")]
    [InlineData("*2\r\n")]
    [InlineData("*2")]
    [InlineData("PIN")]
    public void Incomplete_frames_report_incomplete_not_errors(string text)
    {
        Assert.Equal(ParseStatus.Incomplete, Parse(text, out _, out var error));
        Assert.Null(error);
    }

    [Theory]
    [InlineData("*1\r\n:3\r\n", "ERR Protocol error: expected '$', got ':'")]
    [InlineData("*x\r\n", "ERR Protocol error: invalid multibulk length")]
    [InlineData("*1048577\r\n", "ERR Protocol error: invalid multibulk length")]
    [InlineData("*1\r\n$-3\r\n", "ERR Protocol error: invalid bulk length")]
    [InlineData("*1\r\n$536870913\r\n", "ERR Protocol error: invalid bulk length")]
    [InlineData("*1\r\n$3\r\nabcXY", "ERR Protocol error: invalid bulk terminator")]
    [InlineData("set \"abc\r\n", "ERR Protocol error: unbalanced quotes in request")]
    public void Malformed_frames_get_redis_protocol_errors(string text, string expected)
    {
        Assert.Equal(ParseStatus.Error, Parse(text, out _, out var error));
        Assert.Equal(expected, error);
    }

    [Fact]
    public void An_over_long_inline_command_is_refused_once_the_limit_is_passed()
    {
        var limits = RespLimits.Default with { MaxInlineLength = 100 };
        Assert.Equal(ParseStatus.Incomplete, Parse(new string('a', 100), out _, out _, limits: limits));
        Assert.Equal(ParseStatus.Error, Parse(new string('a', 101), out _, out var error, limits: limits));
        Assert.Equal("ERR Protocol error: too big inline request", error);
    }

    [Fact]
    public void An_over_long_header_line_is_refused()
    {
        var limits = RespLimits.Default with { MaxInlineLength = 100 };
        Assert.Equal(ParseStatus.Error, Parse("*" + new string('1', 200), out _, out var error, limits: limits));
        Assert.Equal("ERR Protocol error: too big mbulk count string", error);
        Assert.Equal(ParseStatus.Error, Parse("*1\r\n$" + new string('1', 200), out _, out error, limits: limits));
        Assert.Equal("ERR Protocol error: too big bulk count string", error);
    }

    [Fact]
    public void Unauthenticated_clients_get_redis_small_frame_limits()
    {
        Assert.Equal(ParseStatus.Error, Parse("*11\r\n", out _, out var error, authenticated: false));
        Assert.Equal("ERR Protocol error: unauthenticated multibulk length", error);
        Assert.Equal(ParseStatus.Error, Parse("*2\r\n$4\r\nAUTH\r\n$16385\r\n", out _, out error, authenticated: false));
        Assert.Equal("ERR Protocol error: unauthenticated bulk length", error);
    }

    [Fact]
    public void A_claimed_huge_multibulk_allocates_only_for_elements_that_arrive()
    {
        var request = new RespRequest();
        var frame = Encoding.ASCII.GetBytes("*1000000\r\n$1\r\na\r\n");
        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(ParseStatus.Incomplete, RespParser.TryParse(frame, request, RespLimits.Default, true, out _, out var needed, out _));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 4096);
        Assert.Equal(frame.Length + 1, needed);
    }

    [Fact]
    public void A_claimed_huge_bulk_within_the_limit_allocates_nothing_while_it_is_incomplete()
    {
        var request = new RespRequest();
        var frame = Encoding.ASCII.GetBytes("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$500000000\r\nabc");
        RespParser.TryParse(frame, request, RespLimits.Default, true, out _, out _, out _);
        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(ParseStatus.Incomplete, RespParser.TryParse(frame, request, RespLimits.Default, true, out _, out var needed, out _));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1024);
        Assert.True(needed > 500_000_000);
    }

    [Fact]
    public void Needed_names_the_end_of_a_partially_received_bulk()
    {
        var frame = Encoding.ASCII.GetBytes("*2\r\n$3\r\nSET\r\n$100\r\nabc");
        Assert.Equal(ParseStatus.Incomplete, RespParser.TryParse(frame, new RespRequest(), RespLimits.Default, true, out _, out var needed, out _));
        Assert.Equal("*2\r\n$3\r\nSET\r\n$100\r\n".Length + 102, needed);
    }

    [Fact]
    public async Task Every_split_point_of_pipelined_frames_gives_the_same_replies()
    {
        var requests = Encoding.UTF8.GetBytes(
            "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$5\r\nhello\r\n" +
            "PING\r\n" +
            "*2\r\n$3\r\nGET\r\n$1\r\na\r\n" +
            "\r\n" +
            "*2\r\n$4\r\nECHO\r\n$4\r\nx\r\ny\r\n" +
            "*0\r\n" +
            "GET a\r\n");
        object?[] expected = [new Simple("OK"), new Simple("PONG"), "hello", "x\r\ny", "hello"];
        for (var split = 0; split <= requests.Length; split++)
        {
            await using var harness = new RespHarness();
            await harness.SendAsync(requests.AsMemory(0, split));
            await harness.SendAsync(requests.AsMemory(split));
            foreach (var reply in expected)
            {
                Assert.Equal(reply, await harness.ReadAsync());
            }
        }
    }

    [Fact]
    public async Task Byte_by_byte_delivery_of_a_large_value_is_reassembled()
    {
        await using var harness = new RespHarness();
        var value = new string('v', 70_000);
        var frame = RespReply.Command("SET", "big", value);
        for (var i = 0; i < frame.Length; i += 997)
        {
            await harness.SendAsync(frame.AsMemory(i, Math.Min(997, frame.Length - i)));
        }

        Assert.Equal(new Simple("OK"), await harness.ReadAsync());
        Assert.Equal(value, await harness.RunAsync("GET", "big"));
    }
    [Theory]
    [InlineData("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n", "key")]
    [InlineData("*2\r\n$3\r\ngEt\r\n$0\r\n\r\n", "")]
    [InlineData("*3\r\n$3\r\nSET\r\n$2\r\nk1\r\n$5\r\nhello\r\n", "k1")]
    [InlineData("*3\r\n$3\r\nset\r\n$12\r\nkey:00000001\r\n$0\r\n\r\n", "key:00000001")]
    public void A_plain_GET_or_SET_is_recognized_for_look_ahead(string frame, string key)
    {
        var bytes = Encoding.UTF8.GetBytes(frame + "*1\r\n$4\r\nPING\r\n");
        Assert.True(RespParser.TryMatchGetOrSet(bytes, out var range, out var length));
        Assert.Equal(key, Encoding.UTF8.GetString(bytes.AsSpan()[range]));
        Assert.Equal(frame.Length, length);

        // Cut anywhere, it is no match (and nothing past the buffer is read).
        for (var cut = 0; cut < frame.Length; cut++)
        {
            Assert.False(RespParser.TryMatchGetOrSet(bytes.AsSpan(0, cut), out _, out _));
        }
    }

    [Theory]
    [InlineData("*2\r\n$3\r\nSET\r\n$1\r\nk\r\n")]
    [InlineData("*3\r\n$3\r\nGET\r\n$1\r\nk\r\n$1\r\nv\r\n")]
    [InlineData("*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nNX\r\n")]
    [InlineData("*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n")]
    [InlineData("*2\r\n$4\r\nGETS\r\n$1\r\nk\r\n")]
    [InlineData("*2\r\n$3\r\nGET\r\n$2\r\nk\r\n")]
    [InlineData("*2\r\n$3\r\nGET\r\n$-1\r\n")]
    [InlineData("*2\r\n$3\r\nGET\r\n$1x\r\nk\r\n")]
    [InlineData("*2\r\n$3\r\nGET\r\n$9999999999\r\nk\r\n")]
    [InlineData("GET key\r\n")]
    public void Anything_else_is_not_recognized(string frame)
    {
        Assert.False(RespParser.TryMatchGetOrSet(Encoding.UTF8.GetBytes(frame), out _, out _));
    }

    [Fact]
    public async Task A_pipeline_of_GETs_and_SETs_hinted_ahead_answers_every_command_in_order()
    {
        await using var harness = new RespHarness();
        harness.Store.Set("k3"u8, "three"u8);
        var requests = new StringBuilder();
        var expected = new List<object?>();
        for (var i = 0; i < 40; i++)
        {
            // Runs of GETs and SETs longer and shorter than the look-ahead window, broken by other commands.
            var key = $"k{i % 7}";
            switch (i % 11)
            {
                case 4:
                    requests.Append("*1\r\n$4\r\nPING\r\n");
                    expected.Add(new Simple("PONG"));
                    break;
                case 9:
                    requests.Append($"*3\r\n$3\r\nSET\r\n${key.Length}\r\n{key}\r\n$1\r\n{i % 10}\r\n");
                    expected.Add(new Simple("OK"));
                    break;
                default:
                    requests.Append($"*2\r\n$3\r\nGET\r\n${key.Length}\r\n{key}\r\n");
                    expected.Add(null);
                    break;
            }
        }

        // Expected GET replies follow the SETs before them.
        var values = new Dictionary<string, string> { ["k3"] = "three" };
        var index = 0;
        for (var i = 0; i < 40; i++, index++)
        {
            var key = $"k{i % 7}";
            if (i % 11 == 9)
            {
                values[key] = (i % 10).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (i % 11 != 4)
            {
                expected[index] = values.GetValueOrDefault(key);
            }
        }

        await harness.SendAsync(requests.ToString());
        foreach (var reply in expected)
        {
            Assert.Equal(reply, await harness.ReadAsync());
        }

        Assert.Equal(values.Count, harness.Store.Count);
    }
}
