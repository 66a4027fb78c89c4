using Cache.Engine;
using Cache.Tests.Support;

namespace Cache.Tests.Transport.Resp;

public class RespCommandTests
{
    private static readonly Simple Ok = new("OK");

    [Fact]
    public async Task Ping_and_echo()
    {
        await using var h = new RespHarness();
        Assert.Equal(new Simple("PONG"), await h.RunAsync("PING"));
        Assert.Equal("hi", await h.RunAsync("PING", "hi"));
        Assert.Equal("a b", await h.RunAsync("ECHO", "a b"));
        Assert.Equal(new Error("ERR wrong number of arguments for 'ping' command"), await h.RunAsync("PING", "a", "b"));
    }

    [Fact]
    public async Task Unknown_command_and_wrong_arity_use_redis_texts()
    {
        await using var h = new RespHarness();
        Assert.Equal(new Error("ERR unknown command 'nope', with args beginning with: 'x' 'y' "), await h.RunAsync("nope", "x", "y"));
        Assert.Equal(new Error("ERR unknown command 'nope', with args beginning with: "), await h.RunAsync("nope"));
        Assert.Equal(new Error("ERR wrong number of arguments for 'get' command"), await h.RunAsync("GET"));
        Assert.Equal(new Error("ERR wrong number of arguments for 'mset' command"), await h.RunAsync("MSET", "a", "1", "b"));
    }

    [Fact]
    public async Task Set_and_get_with_case_insensitive_names()
    {
        await using var h = new RespHarness();
        Assert.Equal(Ok, await h.RunAsync("set", "k", "v"));
        Assert.Equal("v", await h.RunAsync("GeT", "k"));
        Assert.Null(await h.RunAsync("GET", "missing"));
    }

    [Fact]
    public async Task Set_options_NX_XX_GET_and_expirations()
    {
        await using var h = new RespHarness();
        Assert.Null(await h.RunAsync("SET", "k", "1", "XX"));
        Assert.Equal(Ok, await h.RunAsync("SET", "k", "1", "NX"));
        Assert.Null(await h.RunAsync("SET", "k", "2", "NX"));
        Assert.Equal("1", await h.RunAsync("SET", "k", "2", "GET"));
        Assert.Equal("2", await h.RunAsync("GET", "k"));
        Assert.Null(await h.RunAsync("SET", "new", "x", "GET"));
        Assert.Equal(Ok, await h.RunAsync("SET", "k", "3", "EX", "100"));
        Assert.InRange((long)(await h.RunAsync("TTL", "k"))!, 99, 100);
        Assert.Equal(Ok, await h.RunAsync("SET", "k", "4", "KEEPTTL"));
        Assert.InRange((long)(await h.RunAsync("PTTL", "k"))!, 90_000, 100_000);
        Assert.Equal(Ok, await h.RunAsync("SET", "k", "5"));
        Assert.Equal(-1L, await h.RunAsync("TTL", "k"));
        Assert.Equal(Ok, await h.RunAsync("SET", "k", "6", "PXAT", (h.Store.NowUnixMs + 50_000).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.InRange((long)(await h.RunAsync("PTTL", "k"))!, 40_000, 50_000);
        Assert.Equal(new Error("ERR syntax error"), await h.RunAsync("SET", "k", "v", "NX", "XX"));
        Assert.Equal(new Error("ERR syntax error"), await h.RunAsync("SET", "k", "v", "EX", "1", "PX", "1"));
        Assert.Equal(new Error("ERR invalid expire time in 'set' command"), await h.RunAsync("SET", "k", "v", "EX", "0"));
        Assert.Equal(new Error("ERR value is not an integer or out of range"), await h.RunAsync("SET", "k", "v", "EX", "soon"));
    }

    [Fact]
    public async Task Expired_keys_disappear()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20_000));
        await using var h = new RespHarness(time: clock);
        Assert.Equal(Ok, await h.RunAsync("PSETEX", "k", "30", "v"));
        clock.Advance(TimeSpan.FromMilliseconds(29));
        Assert.Equal("v", await h.RunAsync("GET", "k"));
        clock.Advance(TimeSpan.FromMilliseconds(2));
        Assert.Null(await h.RunAsync("GET", "k"));
        Assert.Equal(-2L, await h.RunAsync("TTL", "k"));
    }

    [Fact]
    public async Task Setnx_setex_getdel_getex()
    {
        await using var h = new RespHarness();
        Assert.Equal(1L, await h.RunAsync("SETNX", "a", "1"));
        Assert.Equal(0L, await h.RunAsync("SETNX", "a", "2"));
        Assert.Equal(Ok, await h.RunAsync("SETEX", "b", "100", "x"));
        Assert.Equal(new Error("ERR invalid expire time in 'setex' command"), await h.RunAsync("SETEX", "b", "-1", "x"));
        Assert.Equal("x", await h.RunAsync("GETEX", "b", "PERSIST"));
        Assert.Equal(-1L, await h.RunAsync("TTL", "b"));
        Assert.Equal("x", await h.RunAsync("GETEX", "b", "EX", "50"));
        Assert.InRange((long)(await h.RunAsync("TTL", "b"))!, 49, 50);
        Assert.Equal("1", await h.RunAsync("GETDEL", "a"));
        Assert.Null(await h.RunAsync("GETDEL", "a"));
        Assert.Equal(new Error("ERR syntax error"), await h.RunAsync("GETEX", "b", "BOGUS"));
    }

    [Fact]
    public async Task Mget_mset_msetnx_del_exists()
    {
        await using var h = new RespHarness();
        Assert.Equal(Ok, await h.RunAsync("MSET", "a", "1", "b", "2", "a", "3"));
        Assert.Equal(new object?[] { "3", "2", null }, await h.RunAsync("MGET", "a", "b", "c"));

        // Longer than the store's look-ahead window (16 keys hinted at a time), with misses among the hits.
        var keys = Enumerable.Range(0, 40).Select(i => $"m{i}").ToArray();
        foreach (var i in Enumerable.Range(0, 40).Where(i => i % 4 != 0))
        {
            await h.RunAsync("SET", keys[i], $"v{i}");
        }

        Assert.Equal(Enumerable.Range(0, 40).Select(i => i % 4 == 0 ? null : (object?)$"v{i}").ToArray(), await h.RunAsync(["MGET", .. keys]));
        Assert.Equal(30L, await h.RunAsync(["DEL", .. keys]));
        Assert.Equal(0L, await h.RunAsync("MSETNX", "c", "1", "a", "9"));
        Assert.Null(await h.RunAsync("GET", "c"));
        Assert.Equal(1L, await h.RunAsync("MSETNX", "c", "1", "d", "2"));
        Assert.Equal(3L, await h.RunAsync("EXISTS", "a", "a", "d", "zz"));
        Assert.Equal(2L, await h.RunAsync("DEL", "a", "b", "zz"));
        Assert.Equal(1L, await h.RunAsync("UNLINK", "c"));
        Assert.Equal(1L, await h.RunAsync("DBSIZE"));
    }

    [Fact]
    public async Task Strlen_getrange_append()
    {
        await using var h = new RespHarness();
        Assert.Equal(5L, await h.RunAsync("APPEND", "s", "Hello"));
        Assert.Equal(11L, await h.RunAsync("APPEND", "s", " World"));
        Assert.Equal(11L, await h.RunAsync("STRLEN", "s"));
        Assert.Equal(0L, await h.RunAsync("STRLEN", "none"));
        Assert.Equal("Hell", await h.RunAsync("GETRANGE", "s", "0", "3"));
        Assert.Equal("rld", await h.RunAsync("GETRANGE", "s", "-3", "-1"));
        Assert.Equal("Hello World", await h.RunAsync("GETRANGE", "s", "0", "-1"));
        Assert.Equal("World", await h.RunAsync("GETRANGE", "s", "6", "100"));
        Assert.Equal("", await h.RunAsync("GETRANGE", "s", "5", "3"));
        Assert.Equal("", await h.RunAsync("GETRANGE", "s", "-1", "-5"));
        Assert.Equal("", await h.RunAsync("GETRANGE", "none", "0", "-1"));
    }

    [Fact]
    public async Task Incr_family_with_overflow_and_type_errors()
    {
        await using var h = new RespHarness();
        Assert.Equal(1L, await h.RunAsync("INCR", "n"));
        Assert.Equal(11L, await h.RunAsync("INCRBY", "n", "10"));
        Assert.Equal(10L, await h.RunAsync("DECR", "n"));
        Assert.Equal(-5L, await h.RunAsync("DECRBY", "n", "15"));
        Assert.Equal("-5", await h.RunAsync("GET", "n"));
        await h.RunAsync("SET", "n", long.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(new Error("ERR increment or decrement would overflow"), await h.RunAsync("INCR", "n"));
        await h.RunAsync("SET", "t", "abc");
        Assert.Equal(new Error("ERR value is not an integer or out of range"), await h.RunAsync("INCR", "t"));
        await h.RunAsync("SET", "sp", " 1");
        Assert.Equal(new Error("ERR value is not an integer or out of range"), await h.RunAsync("INCR", "sp"));
        Assert.Equal(new Error("ERR value is not an integer or out of range"), await h.RunAsync("INCRBY", "n", "x"));
        await h.RunAsync("SET", "e", "5", "EX", "100");
        await h.RunAsync("INCR", "e");
        Assert.InRange((long)(await h.RunAsync("TTL", "e"))!, 99, 100);
    }

    [Fact]
    public async Task Expire_family_with_conditions_ttl_and_persist()
    {
        await using var h = new RespHarness();
        Assert.Equal(0L, await h.RunAsync("EXPIRE", "k", "10"));
        await h.RunAsync("SET", "k", "v");
        Assert.Equal(0L, await h.RunAsync("EXPIRE", "k", "10", "XX"));
        Assert.Equal(0L, await h.RunAsync("EXPIRE", "k", "10", "GT"));
        Assert.Equal(1L, await h.RunAsync("EXPIRE", "k", "10", "NX"));
        Assert.Equal(0L, await h.RunAsync("EXPIRE", "k", "20", "NX"));
        Assert.Equal(1L, await h.RunAsync("EXPIRE", "k", "20", "GT"));
        Assert.Equal(0L, await h.RunAsync("EXPIRE", "k", "30", "LT"));
        Assert.Equal(1L, await h.RunAsync("PEXPIRE", "k", "5000", "LT"));
        Assert.InRange((long)(await h.RunAsync("PTTL", "k"))!, 4000, 5000);
        var at = (h.Store.NowUnixMs / 1000) + 100;
        Assert.Equal(1L, await h.RunAsync("EXPIREAT", "k", at.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.InRange((long)(await h.RunAsync("TTL", "k"))!, 98, 100);
        Assert.Equal(1L, await h.RunAsync("PERSIST", "k"));
        Assert.Equal(0L, await h.RunAsync("PERSIST", "k"));
        Assert.Equal(-1L, await h.RunAsync("TTL", "k"));
        Assert.Equal(new Error("ERR NX and XX, GT or LT options at the same time are not compatible"), await h.RunAsync("EXPIRE", "k", "1", "NX", "XX"));
        Assert.Equal(new Error("ERR GT and LT options at the same time are not compatible"), await h.RunAsync("EXPIRE", "k", "1", "GT", "LT"));
        Assert.Equal(new Error("ERR Unsupported option FOO"), await h.RunAsync("EXPIRE", "k", "1", "FOO"));
        await h.RunAsync("SET", "x", "v", "EX", "100");
        Assert.Equal(0L, await h.RunAsync("EXPIRE", "x", "10", "XX", "GT"));
        Assert.Equal(1L, await h.RunAsync("EXPIRE", "x", "10", "XX", "LT"));
        Assert.Null(await h.RunAsync("SET", "x", "v", "NX", "NX"));
        Assert.Equal(new Error("ERR syntax error"), await h.RunAsync("SET", "x", "v", "NX", "XX"));
        Assert.Equal(1L, await h.RunAsync("PEXPIREAT", "k", "1"));
        Assert.Equal(0L, await h.RunAsync("EXISTS", "k"));
        await h.RunAsync("SET", "k2", "v");
        Assert.Equal(1L, await h.RunAsync("EXPIRE", "k2", "-1"));
        Assert.Equal(-2L, await h.RunAsync("TTL", "k2"));
    }

    [Fact]
    public async Task Keys_and_flushes_run_off_the_connection_thread_and_keep_their_place_in_a_pipeline()
    {
        await using var h = new RespHarness();
        await h.SendAsync(
            "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n" +
            "*2\r\n$4\r\nKEYS\r\n$1\r\n*\r\n" +
            "*2\r\n$3\r\nGET\r\n$1\r\na\r\n" +
            "*1\r\n$8\r\nFLUSHALL\r\n" +
            "*2\r\n$3\r\nGET\r\n$1\r\na\r\n" +
            "*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n" +
            "*2\r\n$4\r\nKEYS\r\n$1\r\n?\r\n" +
            "*1\r\n$6\r\nDBSIZE\r\n");
        object?[] expected = [Ok, new object?[] { "a" }, "1", Ok, null, Ok, new object?[] { "b" }, 1L];
        foreach (var reply in expected)
        {
            Assert.Equal(reply, await h.ReadAsync());
        }
    }

    [Fact]
    public async Task Type_keys_scan_randomkey_dbsize_flush()
    {
        await using var h = new RespHarness();
        for (var i = 0; i < 25; i++)
        {
            await h.RunAsync("SET", $"user:{i}", "x");
        }

        await h.RunAsync("SET", "other", "y");
        Assert.Equal(new Simple("string"), await h.RunAsync("TYPE", "other"));
        Assert.Equal(new Simple("none"), await h.RunAsync("TYPE", "nothing"));
        var keys = (object?[])(await h.RunAsync("KEYS", "user:1*"))!;
        Assert.Equal(11, keys.Length);
        Assert.Single((object?[])(await h.RunAsync("KEYS", "oth?r"))!);
        Assert.Equal(26, ((object?[])(await h.RunAsync("KEYS", "*"))!).Length);

        var seen = new HashSet<string>();
        var cursor = "0";
        var rounds = 0;
        do
        {
            var reply = (object?[])(await h.RunAsync("SCAN", cursor, "MATCH", "user:*", "COUNT", "7"))!;
            cursor = (string)reply[0]!;
            foreach (var key in (object?[])reply[1]!)
            {
                Assert.True(seen.Add((string)key!), "SCAN returned a key twice");
            }

            rounds++;
        }
        while (cursor != "0" && rounds < 100);
        Assert.Equal(25, seen.Count);
        var typed = (object?[])(await h.RunAsync("SCAN", "0", "COUNT", "1000", "TYPE", "hash"))!;
        Assert.Empty((object?[])typed[1]!);
        Assert.Equal(new Error("ERR invalid cursor"), await h.RunAsync("SCAN", "abc"));
        Assert.Equal(new Error("ERR invalid cursor"), await h.RunAsync("SCAN", "-1"));
        var past = (object?[])(await h.RunAsync("SCAN", "18446744073709551615"))!;
        Assert.Equal("0", past[0]);
        Assert.Empty((object?[])past[1]!);
        Assert.Equal(new Error("ERR syntax error"), await h.RunAsync("SCAN", "0", "COUNT", "0"));

        Assert.NotNull(await h.RunAsync("RANDOMKEY"));
        Assert.Equal(26L, await h.RunAsync("DBSIZE"));
        Assert.Equal(Ok, await h.RunAsync("FLUSHDB"));
        Assert.Equal(0L, await h.RunAsync("DBSIZE"));
        Assert.Null(await h.RunAsync("RANDOMKEY"));
        Assert.Equal(Ok, await h.RunAsync("FLUSHALL", "ASYNC"));
    }

    [Fact]
    public async Task Scan_returns_every_key_present_throughout_even_while_others_are_deleted()
    {
        await using var h = new RespHarness();
        for (var i = 0; i < 200; i++)
        {
            await h.RunAsync("SET", $"k{i}", "v");
        }

        var seen = new HashSet<string>();
        var cursor = "0";
        var deleted = 0;
        do
        {
            var reply = (object?[])(await h.RunAsync("SCAN", cursor, "COUNT", "10"))!;
            cursor = (string)reply[0]!;
            foreach (var key in (object?[])reply[1]!)
            {
                seen.Add((string)key!);
            }

            // Delete keys with odd numbers as the scan goes: even keys stay present throughout.
            if (deleted < 100)
            {
                await h.RunAsync("DEL", $"k{(2 * deleted) + 1}");
                deleted++;
            }
        }
        while (cursor != "0");
        for (var i = 0; i < 200; i += 2)
        {
            Assert.Contains($"k{i}", seen);
        }
    }

    [Fact]
    public async Task Select_time_memory_usage()
    {
        await using var h = new RespHarness();
        Assert.Equal(Ok, await h.RunAsync("SELECT", "0"));
        Assert.Equal(new Error("ERR DB index is out of range"), await h.RunAsync("SELECT", "1"));
        var time = (object?[])(await h.RunAsync("TIME"))!;
        Assert.InRange(long.Parse((string)time[0]!, System.Globalization.CultureInfo.InvariantCulture), DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 5, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 5);
        await h.RunAsync("SET", "k", "value");
        Assert.Equal(BlockStore.ChargeFor(1, 5), await h.RunAsync("MEMORY", "USAGE", "k"));
        Assert.Null(await h.RunAsync("MEMORY", "USAGE", "none"));
        Assert.Equal(new Error("ERR unknown subcommand 'doctor'. Try MEMORY HELP."), await h.RunAsync("MEMORY", "doctor"));
    }

    [Fact]
    public async Task Client_commands()
    {
        await using var h = new RespHarness();
        var id = (long)(await h.RunAsync("CLIENT", "ID"))!;
        Assert.True(id > 0);
        Assert.Null(await h.RunAsync("CLIENT", "GETNAME"));
        Assert.Equal(Ok, await h.RunAsync("CLIENT", "SETNAME", "trainer-0"));
        Assert.Equal("trainer-0", await h.RunAsync("CLIENT", "GETNAME"));
        Assert.Equal(new Error("ERR Client names cannot contain spaces, newlines or special characters."), await h.RunAsync("CLIENT", "SETNAME", "a b"));
        Assert.Contains("name=trainer-0", (string)(await h.RunAsync("CLIENT", "LIST"))!, StringComparison.Ordinal);
        Assert.Contains($"id={id} ", (string)(await h.RunAsync("CLIENT", "INFO"))!, StringComparison.Ordinal);
        Assert.Equal(Ok, await h.RunAsync("CLIENT", "SETINFO", "LIB-NAME", "SE.Redis"));
        Assert.Equal(new Error("ERR unknown subcommand 'bogus'. Try CLIENT HELP."), await h.RunAsync("CLIENT", "bogus"));
    }

    [Fact]
    public async Task Info_reports_sections_with_the_stores_counters()
    {
        await using var h = new RespHarness(capacity: 4096);
        h.Node.TrackKeyPrefix("mnist:");
        await h.RunAsync("SET", "mnist:1", "x");
        await h.RunAsync("GET", "mnist:1");
        await h.RunAsync("GET", "absent");
        await h.RunAsync("SET", "big", new string('x', 5000));
        var info = (string)(await h.RunAsync("INFO"))!;
        Assert.Contains("# Server\r\n", info, StringComparison.Ordinal);
        Assert.Contains("redis_version:", info, StringComparison.Ordinal);
        Assert.Contains("keyspace_hits:1\r\n", info, StringComparison.Ordinal);
        Assert.Contains("keyspace_misses:1\r\n", info, StringComparison.Ordinal);
        Assert.Contains("evicted_keys:0\r\n", info, StringComparison.Ordinal);
        Assert.Contains("rejected_keys:1\r\n", info, StringComparison.Ordinal);
        Assert.Contains("maxmemory:4096\r\n", info, StringComparison.Ordinal);
        Assert.Contains("maxmemory_policy:noeviction\r\n", info, StringComparison.Ordinal);
        Assert.Contains("db0:keys=1,", info, StringComparison.Ordinal);
        Assert.Contains("dataset_mnist:keys=1\r\n", info, StringComparison.Ordinal);
        var memory = (string)(await h.RunAsync("INFO", "memory"))!;
        Assert.StartsWith("# Memory", memory, StringComparison.Ordinal);
        Assert.DoesNotContain("# Server", memory, StringComparison.Ordinal);

        // The process's garbage collections (gen0,gen1,gen2) and their pauses: what a SET-heavy load costs the runtime.
        var gc = System.Text.RegularExpressions.Regex.Match(memory, @"gc_collections:(\d+),(\d+),(\d+)\r\n");
        Assert.True(gc.Success, memory);
        Assert.True(long.Parse(gc.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= long.Parse(gc.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Matches(@"gc_pause_total_ms:\d+\r\n", memory);
    }

    [Fact]
    public async Task A_full_retain_store_answers_oom()
    {
        await using var h = new RespHarness(capacity: BlockStore.ChargeFor(2, 10) * 2);
        Assert.Equal(Ok, await h.RunAsync("SET", "k1", "0123456789"));
        Assert.Equal(Ok, await h.RunAsync("SET", "k2", "0123456789"));
        Assert.Equal(new Error("OOM command not allowed when used memory > 'maxmemory'."), await h.RunAsync("SET", "k3", "0123456789"));
    }

    [Fact]
    public async Task Mset_that_cannot_fit_writes_nothing()
    {
        await using var h = new RespHarness(capacity: BlockStore.ChargeFor(2, 10) * 3);
        Assert.Equal(Ok, await h.RunAsync("SET", "k1", "0123456789"));
        Assert.Equal(new Error("OOM command not allowed when used memory > 'maxmemory'."), await h.RunAsync("MSET", "k2", "0123456789", "k3", "0123456789", "k4", "0123456789"));
        Assert.Equal(0L, await h.RunAsync("EXISTS", "k2", "k3", "k4"));

        // A key given twice is charged once.
        Assert.Equal(Ok, await h.RunAsync("MSET", "k2", "0123456789", "k2", "0123456789", "k2", "0123456789"));
        Assert.Equal(1L, await h.RunAsync("DEL", "k2"));

        // Replacing a key frees its old charge: the same batch with k1 in it fits.
        Assert.Equal(Ok, await h.RunAsync("MSET", "k1", "0123456789", "k2", "0123456789", "k3", "0123456789"));
        Assert.Equal(3L, await h.RunAsync("EXISTS", "k1", "k2", "k3"));
    }

    [Fact]
    public async Task An_lru_store_evicts_and_reports_it()
    {
        await using var h = new RespHarness(capacity: BlockStore.ChargeFor(2, 10) * 2, policy: AdmissionPolicy.Lru);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(Ok, await h.RunAsync("SET", $"k{i}", "0123456789"));
        }

        Assert.Contains("evicted_keys:3\r\n", (string)(await h.RunAsync("INFO", "stats"))!, StringComparison.Ordinal);
        Assert.Equal(new object?[] { "maxmemory-policy", "allkeys-lru" }, await h.RunAsync("CONFIG", "GET", "maxmemory-policy"));
    }

    [Fact]
    public async Task Config_get_and_command_introspection()
    {
        await using var h = new RespHarness(capacity: 1 << 20);
        Assert.Equal(new object?[] { "maxmemory", "1048576" }, await h.RunAsync("CONFIG", "GET", "maxmemory"));
        Assert.Equal(new object?[] { "save", "", "appendonly", "no" }, await h.RunAsync("CONFIG", "GET", "save", "appendonly"));
        Assert.Empty((object?[])(await h.RunAsync("CONFIG", "GET", "nonexistent"))!);
        Assert.True((long)(await h.RunAsync("COMMAND", "COUNT"))! >= 40);
        var info = (object?[])(await h.RunAsync("COMMAND", "INFO", "get", "nope"))!;
        var get = (object?[])info[0]!;
        Assert.Equal("get", get[0]);
        Assert.Equal(2L, get[1]);
        Assert.Equal(1L, get[3]);
        Assert.Null(info[1]);
        var docs = (object?[])(await h.RunAsync("COMMAND", "DOCS", "set"))!;
        Assert.Equal("set", docs[0]);
    }

    [Fact]
    public async Task Hello_3_switches_to_resp3_and_reset_goes_back()
    {
        await using var h = new RespHarness();
        var hello = (object?[])(await h.RunAsync("HELLO", "3"))!;
        Assert.Equal("proto", hello[4]);
        Assert.Equal(3L, hello[5]);
        await h.SendAsync(RespReply.Command("GET", "missing"));
        Assert.Null(await h.ReadAsync());
        await h.SendAsync(RespReply.Command("CONFIG", "GET", "maxmemory"));
        Assert.Equal(2, ((object?[])(await h.ReadAsync())!).Length);
        Assert.Equal(new Simple("RESET"), await h.RunAsync("RESET"));
        Assert.Equal(new Error("NOPROTO unsupported protocol version"), await h.RunAsync("HELLO", "4"));
    }

    [Fact]
    public async Task Resp3_nulls_and_maps_are_written_in_resp3_form()
    {
        await using var h = new RespHarness();
        await h.RunAsync("HELLO", "3");
        var writer = new System.Buffers.ArrayBufferWriter<byte>();
        var resp = new Cache.Transport.Resp.RespWriter(writer) { Protocol = 3 };
        resp.Null();
        resp.MapHeader(1);
        resp.NullArray();
        resp.DoubleValue(1.5);
        Assert.Equal("_\r\n%1\r\n_\r\n,1.5\r\n", System.Text.Encoding.ASCII.GetString(writer.WrittenSpan));
        writer.Clear();
        resp.Protocol = 2;
        resp.Null();
        resp.MapHeader(1);
        resp.NullArray();
        resp.DoubleValue(1.5);
        Assert.Equal("$-1\r\n*2\r\n*-1\r\n$3\r\n1.5\r\n", System.Text.Encoding.ASCII.GetString(writer.WrittenSpan));
    }

    [Fact]
    public async Task Quit_replies_ok_and_closes()
    {
        await using var h = new RespHarness();
        Assert.Equal(Ok, await h.RunAsync("QUIT"));
        Assert.True(await h.IsClosedAsync());
    }
}
