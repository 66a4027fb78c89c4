using Cache.Tests.Support;

namespace Cache.Tests.Transport.Resp;

/// <summary>GETSET, SETRANGE, GETBIT/SETBIT/BITCOUNT, INCRBYFLOAT, LCS, SUBSTR, TOUCH, RENAME/RENAMENX, COPY, EXPIRETIME/PEXPIRETIME: Redis 7's replies and errors.</summary>
public class RespStringEditTests
{
    private static readonly Simple Ok = new("OK");

    [Fact]
    public async Task Getset_returns_the_old_value_and_clears_the_ttl()
    {
        await using var h = new RespHarness();
        Assert.Null(await h.RunAsync("GETSET", "k", "1"));
        await h.RunAsync("EXPIRE", "k", "100");
        Assert.Equal("1", await h.RunAsync("GETSET", "k", "2"));
        Assert.Equal(-1L, await h.RunAsync("TTL", "k"));
        Assert.Equal("2", await h.RunAsync("GET", "k"));
    }

    [Fact]
    public async Task Setrange_pads_with_zeros_and_refuses_bad_offsets()
    {
        await using var h = new RespHarness();
        Assert.Equal(0L, await h.RunAsync("SETRANGE", "absent", "5", ""));
        Assert.Equal(0L, await h.RunAsync("EXISTS", "absent"));
        Assert.Equal(8L, await h.RunAsync("SETRANGE", "k", "5", "abc"));
        Assert.Equal("\0\0\0\0\0abc", await h.RunAsync("GET", "k"));
        await h.RunAsync("SET", "w", "Hello World");
        Assert.Equal(11L, await h.RunAsync("SETRANGE", "w", "6", "Redis"));
        Assert.Equal("Hello Redis", await h.RunAsync("GET", "w"));
        Assert.Equal(11L, await h.RunAsync("SETRANGE", "w", "0", ""));
        Assert.Equal(new Error("ERR offset is out of range"), await h.RunAsync("SETRANGE", "w", "-1", "x"));
        Assert.Equal(new Error("ERR value is not an integer or out of range"), await h.RunAsync("SETRANGE", "w", "x", "x"));
        Assert.Equal(new Error("ERR string exceeds maximum allowed size (proto-max-bulk-len)"), await h.RunAsync("SETRANGE", "w", "9223372036854775807", "A"));
        Assert.Equal(new Error("ERR string exceeds maximum allowed size (proto-max-bulk-len)"), await h.RunAsync("SETRANGE", "w", "536870911", "AB"));
    }

    [Fact]
    public async Task Bits_are_numbered_from_the_most_significant()
    {
        await using var h = new RespHarness();
        Assert.Equal(0L, await h.RunAsync("SETBIT", "b", "7", "1"));
        Assert.Equal(1L, await h.RunAsync("SETBIT", "b", "7", "0"));
        Assert.Equal(0L, await h.RunAsync("SETBIT", "b", "1", "1"));
        Assert.Equal("@", await h.RunAsync("GET", "b"));
        Assert.Equal(1L, await h.RunAsync("GETBIT", "b", "1"));
        Assert.Equal(0L, await h.RunAsync("GETBIT", "b", "100"));
        Assert.Equal(0L, await h.RunAsync("GETBIT", "absent", "0"));
        Assert.Equal(0L, await h.RunAsync("SETBIT", "grow", "23", "1"));
        Assert.Equal(3L, await h.RunAsync("STRLEN", "grow"));
        Assert.Equal(new Error("ERR bit is not an integer or out of range"), await h.RunAsync("SETBIT", "b", "0", "2"));
        Assert.Equal(new Error("ERR bit offset is not an integer or out of range"), await h.RunAsync("SETBIT", "b", "-1", "1"));
        Assert.Equal(new Error("ERR bit offset is not an integer or out of range"), await h.RunAsync("GETBIT", "b", "4294967296"));
    }

    [Fact]
    public async Task Bitcount_over_bytes_and_bits_with_negative_ranges()
    {
        await using var h = new RespHarness();
        await h.RunAsync("SET", "k", "foobar");
        Assert.Equal(26L, await h.RunAsync("BITCOUNT", "k"));
        Assert.Equal(4L, await h.RunAsync("BITCOUNT", "k", "0", "0"));
        Assert.Equal(6L, await h.RunAsync("BITCOUNT", "k", "1", "1"));
        Assert.Equal(6L, await h.RunAsync("BITCOUNT", "k", "1", "1", "BYTE"));
        Assert.Equal(17L, await h.RunAsync("BITCOUNT", "k", "5", "30", "BIT"));
        Assert.Equal(26L, await h.RunAsync("BITCOUNT", "k", "0", "-1"));
        Assert.Equal(0L, await h.RunAsync("BITCOUNT", "k", "3", "1"));
        Assert.Equal(0L, await h.RunAsync("BITCOUNT", "absent"));
        Assert.Equal(new Error("ERR syntax error"), await h.RunAsync("BITCOUNT", "k", "0"));
        Assert.Equal(new Error("ERR syntax error"), await h.RunAsync("BITCOUNT", "k", "0", "1", "WORD"));
        Assert.Equal(new Error("ERR value is not an integer or out of range"), await h.RunAsync("BITCOUNT", "k", "a", "1"));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Incrbyfloat_adds_as_redis_prints(int protocol)
    {
        await using var h = new RespHarness();
        await h.RunAsync("HELLO", protocol.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("10.5", await h.RunAsync("INCRBYFLOAT", "f", "10.5"));
        Assert.Equal("10.6", await h.RunAsync("INCRBYFLOAT", "f", "0.1"));
        await h.RunAsync("SET", "g", "1");
        Assert.Equal("-0.1", await h.RunAsync("INCRBYFLOAT", "g", "-1.1"));
        await h.RunAsync("SET", "e", "5.0e3");
        Assert.Equal("5200", await h.RunAsync("INCRBYFLOAT", "e", "2.0e2"));
        await h.RunAsync("SET", "big", "17179869184");
        Assert.Equal("17179869185.5", await h.RunAsync("INCRBYFLOAT", "big", "1.5"));
        Assert.Equal("17179869185.5", await h.RunAsync("GET", "big"));
        await h.RunAsync("SET", "text", "abc");
        Assert.Equal(new Error("ERR value is not a valid float"), await h.RunAsync("INCRBYFLOAT", "text", "1"));
        Assert.Equal(new Error("ERR value is not a valid float"), await h.RunAsync("INCRBYFLOAT", "f", " 1"));
        Assert.Equal(new Error("ERR value is not a valid float"), await h.RunAsync("INCRBYFLOAT", "f", "nan"));
        Assert.Equal(new Error("ERR increment would produce NaN or Infinity"), await h.RunAsync("INCRBYFLOAT", "f", "+inf"));
        Assert.Equal("10.6", await h.RunAsync("GET", "f"));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Lcs_string_length_and_indexes(int protocol)
    {
        await using var h = new RespHarness();
        await h.RunAsync("HELLO", protocol.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await h.RunAsync("MSET", "a", "ohmytext", "b", "mynewtext");
        Assert.Equal("mytext", await h.RunAsync("LCS", "a", "b"));
        Assert.Equal(6L, await h.RunAsync("LCS", "a", "b", "LEN"));

        // Redis's own example (the map is flattened by the test reader in both protocols).
        var idx = (object?[])(await h.RunAsync("LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"))!;
        Assert.Equal("matches", idx[0]);
        Assert.Equal(new object?[] { new object?[] { new object?[] { 4L, 7L }, new object?[] { 5L, 8L }, 4L } }, idx[1]);
        Assert.Equal("len", idx[2]);
        Assert.Equal(6L, idx[3]);
        var all = (object?[])(await h.RunAsync("LCS", "a", "b", "IDX"))!;
        Assert.Equal(new object?[] { new object?[] { new object?[] { 4L, 7L }, new object?[] { 5L, 8L } }, new object?[] { new object?[] { 2L, 3L }, new object?[] { 0L, 1L } } }, all[1]);
        Assert.Equal("", await h.RunAsync("LCS", "a", "absent"));
        Assert.Equal(new Error("ERR If you want both the length and indexes, please just use IDX."), await h.RunAsync("LCS", "a", "b", "LEN", "IDX"));
        Assert.Equal(new Error("ERR syntax error"), await h.RunAsync("LCS", "a", "b", "NOPE"));
    }

    [Fact]
    public async Task Substr_is_getrange()
    {
        await using var h = new RespHarness();
        await h.RunAsync("SET", "k", "Hello World");
        Assert.Equal("Hello", await h.RunAsync("SUBSTR", "k", "0", "4"));
        Assert.Equal("World", await h.RunAsync("SUBSTR", "k", "-5", "-1"));
    }

    [Fact]
    public async Task Touch_counts_present_keys_and_reads_them()
    {
        await using var h = new RespHarness();
        await h.RunAsync("MSET", "a", "1", "b", "2");
        var hits = h.Store.GetStatistics().Hits;
        Assert.Equal(2L, await h.RunAsync("TOUCH", "a", "b", "c"));
        Assert.Equal(hits + 2, h.Store.GetStatistics().Hits);
    }

    [Fact]
    public async Task Rename_moves_the_value_and_its_ttl()
    {
        await using var h = new RespHarness();
        await h.RunAsync("SET", "src", "v", "EX", "100");
        Assert.Equal(Ok, await h.RunAsync("RENAME", "src", "dst"));
        Assert.Equal(0L, await h.RunAsync("EXISTS", "src"));
        Assert.Equal("v", await h.RunAsync("GET", "dst"));
        Assert.InRange((long)(await h.RunAsync("TTL", "dst"))!, 99L, 100L);
        Assert.Equal(new Error("ERR no such key"), await h.RunAsync("RENAME", "src", "dst"));
        Assert.Equal(Ok, await h.RunAsync("RENAME", "dst", "dst"));
        await h.RunAsync("SET", "other", "o");
        Assert.Equal(0L, await h.RunAsync("RENAMENX", "dst", "other"));
        Assert.Equal(1L, await h.RunAsync("RENAMENX", "dst", "fresh"));
        Assert.Equal("v", await h.RunAsync("GET", "fresh"));
        Assert.Equal(new Error("ERR no such key"), await h.RunAsync("RENAMENX", "dst", "x"));
    }

    [Fact]
    public async Task Copy_keeps_the_source_and_honours_replace_and_db()
    {
        await using var h = new RespHarness();
        await h.RunAsync("SET", "src", "v", "PX", "100000");
        Assert.Equal(1L, await h.RunAsync("COPY", "src", "dst"));
        Assert.Equal("v", await h.RunAsync("GET", "src"));
        Assert.InRange((long)(await h.RunAsync("PTTL", "dst"))!, 90_000L, 100_000L);
        await h.RunAsync("SET", "src", "w");
        Assert.Equal(0L, await h.RunAsync("COPY", "src", "dst"));
        Assert.Equal(1L, await h.RunAsync("COPY", "src", "dst", "REPLACE"));
        Assert.Equal("w", await h.RunAsync("GET", "dst"));
        Assert.Equal(0L, await h.RunAsync("COPY", "absent", "dst"));
        Assert.Equal(new Error("ERR source and destination objects are the same"), await h.RunAsync("COPY", "src", "src"));
        Assert.Equal(new Error("ERR DB index is out of range"), await h.RunAsync("COPY", "src", "x", "DB", "1"));
        Assert.Equal(1L, await h.RunAsync("COPY", "src", "x", "DB", "0"));
        Assert.Equal(new Error("ERR syntax error"), await h.RunAsync("COPY", "src", "y", "NOPE"));
    }

    [Fact]
    public async Task Expiretime_and_pexpiretime()
    {
        await using var h = new RespHarness();
        var at = h.Store.NowUnixMs + 100_000;
        await h.RunAsync("SET", "k", "v", "PXAT", at.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(at, await h.RunAsync("PEXPIRETIME", "k"));
        Assert.Equal(at / 1000, await h.RunAsync("EXPIRETIME", "k"));
        await h.RunAsync("SET", "p", "v");
        Assert.Equal(-1L, await h.RunAsync("EXPIRETIME", "p"));
        Assert.Equal(-2L, await h.RunAsync("PEXPIRETIME", "absent"));
    }

    [Fact]
    public async Task Object_reports_encoding_and_refcount_and_redis_text_without_lfu()
    {
        await using var h = new RespHarness();
        await h.RunAsync("MSET", "i", "12345", "s", "short", "r", new string('x', 45), "z", "012");
        Assert.Equal("int", await h.RunAsync("OBJECT", "ENCODING", "i"));
        Assert.Equal("embstr", await h.RunAsync("OBJECT", "ENCODING", "s"));
        Assert.Equal("embstr", await h.RunAsync("OBJECT", "ENCODING", "z"));
        Assert.Equal("raw", await h.RunAsync("OBJECT", "ENCODING", "r"));
        Assert.Equal(1L, await h.RunAsync("OBJECT", "REFCOUNT", "s"));
        Assert.Null(await h.RunAsync("OBJECT", "ENCODING", "absent"));
        var freq = Assert.IsType<Error>(await h.RunAsync("OBJECT", "FREQ", "s"));
        Assert.StartsWith("ERR An LFU maxmemory policy is not selected, access frequency not tracked.", freq.Text, StringComparison.Ordinal);
        Assert.Equal(new Error("ERR unknown subcommand 'NOPE'. Try OBJECT HELP."), await h.RunAsync("OBJECT", "NOPE", "s"));
        Assert.Equal(new Error("ERR wrong number of arguments for 'object|encoding' command"), await h.RunAsync("OBJECT", "ENCODING"));
    }

    [Fact]
    public async Task New_commands_are_listed_with_their_keys()
    {
        await using var h = new RespHarness();
        Assert.Equal(new object?[] { "a", "b" }, await h.RunAsync("COMMAND", "GETKEYS", "LCS", "a", "b"));
        Assert.Equal(new object?[] { "k" }, await h.RunAsync("COMMAND", "GETKEYS", "SETBIT", "k", "1", "1"));
        Assert.Equal(new Error("ERR The command has no key arguments"), await h.RunAsync("COMMAND", "GETKEYS", "PING"));
        var list = (object?[])(await h.RunAsync("COMMAND", "LIST", "FILTERBY", "PATTERN", "*expiretime"))!;
        Assert.Equal(new[] { "expiretime", "pexpiretime" }, list.Cast<string>().Order(StringComparer.Ordinal));
        Assert.Equal(new Error("ERR syntax error"), await h.RunAsync("COMMAND", "LIST", "bad_arg"));
    }
}
