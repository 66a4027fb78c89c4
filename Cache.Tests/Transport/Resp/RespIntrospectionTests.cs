using Cache.Tests.Support;
using Cache.Transport;

namespace Cache.Tests.Transport.Resp;

/// <summary>MONITOR, SLOWLOG, LATENCY, CONFIG SET/RESETSTAT, INFO cpu/commandstats, CLIENT LIST/INFO/KILL/REPLY.</summary>
public class RespIntrospectionTests
{
    private static readonly Simple Ok = new("OK");

    [Fact]
    public async Task Monitor_shows_every_command_in_redis_line_format()
    {
        await using var watcher = new RespHarness();
        await using var client = new RespHarness(watcher);
        Assert.Equal(Ok, await watcher.RunAsync("MONITOR"));
        await client.RunAsync("SET", "k", "a \"b\"\n\x01");
        await client.RunAsync("AUTH", "default", "secret");
        await client.RunAsync("MULTI");
        await client.RunAsync("GET", "k");
        await client.RunAsync("EXEC");
        await client.RunAsync("CONFIG", "GET", "maxmemory");

        var lines = new List<string>();
        while (lines.Count < 5)
        {
            lines.Add(((Simple)(await watcher.ReadAsync())!).Text);
        }

        Assert.Matches(@"^\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] ""SET"" ""k"" ""a \\""b\\""\\n\\x01""$", lines[0]);
        Assert.EndsWith(@"""AUTH"" ""(redacted)"" ""(redacted)""", lines[1], StringComparison.Ordinal);
        Assert.EndsWith(@"""MULTI""", lines[2], StringComparison.Ordinal);

        // Queued commands show when EXEC runs them, EXEC after them; CONFIG (admin) is not shown.
        Assert.EndsWith(@"""GET"" ""k""", lines[3], StringComparison.Ordinal);
        Assert.EndsWith(@"""EXEC""", lines[4], StringComparison.Ordinal);
        await client.RunAsync("PING");
        Assert.EndsWith(@"""PING""", ((Simple)(await watcher.ReadAsync())!).Text, StringComparison.Ordinal);
        var list = (string)(await client.RunAsync("CLIENT", "LIST"))!;
        Assert.Contains(" flags=O ", list, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_monitor_that_does_not_read_is_disconnected_at_the_output_limit()
    {
        // The watcher's reader never reads: its pipe fills, its flush waits, its lines queue up to the limit.
        var options = new PeerServerOptions { MaxOutputBuffer = 64 * 1024 };
        await using var client = new RespHarness(options);
        await using var watcher = new RespHarness(client, outputPauseThreshold: 4096);
        await watcher.SendAsync(RespReply.Command("MONITOR"));
        while (!client.Context.Monitors.Active)
        {
            await Task.Yield();
        }

        var value = new string('v', 1000);
        for (var i = 0; i < 1000 && !watcher.Running.IsCompleted; i++)
        {
            await client.RunAsync("SET", "k", value);
        }

        Assert.True(await watcher.IsClosedAsync());
        Assert.True(watcher.Connection.Overflowed);
        Assert.False(client.Context.Monitors.Active);
    }

    [Fact]
    public async Task Slowlog_records_commands_over_the_threshold_and_trims_arguments()
    {
        await using var h = new RespHarness();
        Assert.Equal(Ok, await h.RunAsync("CONFIG", "SET", "slowlog-log-slower-than", "0"));
        await h.RunAsync("SET", "k", new string('x', 200));
        var entries = (object?[])(await h.RunAsync("SLOWLOG", "GET", "1"))!;
        var entry = (object?[])entries[0]!;
        Assert.Equal(6, entry.Length);
        Assert.True((long)entry[2]! >= 0);
        var args = (object?[])entry[3]!;
        Assert.Equal(new object?[] { "SET", "k", new string('x', 128) + "... (72 more bytes)" }, args);
        Assert.StartsWith("127.0.0.1:", (string)entry[4]!, StringComparison.Ordinal);
        Assert.True((long)(await h.RunAsync("SLOWLOG", "LEN"))! >= 2);
        Assert.Equal(Ok, await h.RunAsync("SLOWLOG", "RESET"));
        Assert.Equal(Ok, await h.RunAsync("CONFIG", "SET", "slowlog-log-slower-than", "-1"));
        await h.RunAsync("PING");
        Assert.Equal(1L, await h.RunAsync("SLOWLOG", "LEN"));
        Assert.Equal(new Error("ERR count should be greater than or equal to -1"), await h.RunAsync("SLOWLOG", "GET", "-2"));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Latency_latest_is_empty_while_the_monitor_is_off_and_histogram_counts_calls(int protocol)
    {
        await using var h = new RespHarness();
        await h.RunAsync("HELLO", protocol.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(Array.Empty<object?>(), await h.RunAsync("LATENCY", "LATEST"));
        await h.RunAsync("SET", "k", "v");
        await h.RunAsync("GET", "k");
        await h.RunAsync("GET", "k");
        var histogram = (object?[])(await h.RunAsync("LATENCY", "HISTOGRAM", "get", "nosuch"))!;
        Assert.Equal("get", histogram[0]);
        var body = (object?[])histogram[1]!;
        Assert.Equal("calls", body[0]);
        Assert.Equal(2L, body[1]);
        Assert.Equal("histogram_usec", body[2]);
        var buckets = (object?[])body[3]!;
        Assert.Equal(2L, buckets[^1]);
    }

    [Fact]
    public async Task Info_commandstats_counts_calls_failures_and_rejections_and_resetstat_clears_them()
    {
        await using var h = new RespHarness();
        await h.RunAsync("SET", "k", "abc");
        await h.RunAsync("INCR", "k");
        await h.RunAsync("GET");
        await h.RunAsync("GET", "k");
        var info = (string)(await h.RunAsync("INFO", "commandstats"))!;
        Assert.Matches(@"cmdstat_get:calls=1,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=1,failed_calls=0", info);
        Assert.Matches(@"cmdstat_incr:calls=1,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=0,failed_calls=1", info);
        Assert.Equal(Ok, await h.RunAsync("CONFIG", "RESETSTAT"));
        info = (string)(await h.RunAsync("INFO", "commandstats"))!;
        Assert.DoesNotContain("cmdstat_get", info, StringComparison.Ordinal);
        Assert.Contains("cmdstat_config:calls=1,", info, StringComparison.Ordinal);
        var stats = (string)(await h.RunAsync("INFO", "stats"))!;
        Assert.Contains("keyspace_hits:0\r\n", stats, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Info_cpu_reports_the_process_and_the_command_thread()
    {
        await using var h = new RespHarness();
        var info = (string)(await h.RunAsync("INFO", "cpu"))!;
        Assert.Matches(@"used_cpu_sys:\d+\.\d{6}\r\n", info);
        Assert.Matches(@"used_cpu_user:\d+\.\d{6}\r\n", info);
        if (OperatingSystem.IsLinux())
        {
            Assert.Matches(@"used_cpu_user_main_thread:\d+\.\d{6}\r\n", info);
        }

        var all = (string)(await h.RunAsync("INFO", "everything"))!;
        Assert.Contains("# CPU", all, StringComparison.Ordinal);
        Assert.Contains("# Commandstats", all, StringComparison.Ordinal);
        Assert.DoesNotContain("# Commandstats", (string)(await h.RunAsync("INFO"))!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Config_set_maxmemory_resizes_the_store_live()
    {
        await using var h = new RespHarness(capacity: 1 << 20, policy: Cache.Engine.AdmissionPolicy.Lru);
        var value = new string('v', 1000);
        for (var i = 0; i < 500; i++)
        {
            await h.RunAsync("SET", $"k{i}", value);
        }

        Assert.Equal(Ok, await h.RunAsync("CONFIG", "SET", "maxmemory", "200kb"));
        Assert.Equal(new object?[] { "maxmemory", "204800" }, await h.RunAsync("CONFIG", "GET", "maxmemory"));
        Assert.True(h.Store.BytesUsed <= 204_800);
        Assert.Contains("maxmemory:204800\r\n", (string)(await h.RunAsync("INFO", "memory"))!, StringComparison.Ordinal);
        Assert.Equal(Ok, await h.RunAsync("CONFIG", "SET", "maxmemory-policy", "allkeys-random"));
        Assert.Equal(Cache.Engine.AdmissionPolicy.Random, h.Store.Policy);
        Assert.Equal(Ok, await h.RunAsync("CONFIG", "SET", "maxmemory", "0"));
        Assert.Equal(new object?[] { "maxmemory", "0" }, await h.RunAsync("CONFIG", "GET", "maxmemory"));
    }

    [Fact]
    public async Task Info_memory_reports_the_memory_a_node_committed_at_start()
    {
        await using var node = new CacheNode(new CacheNodeOptions { Capacity = 64L << 20, Preallocate = 8L << 20 });
        await using var h = new RespHarness(node: node);
        Assert.Contains("cache_preallocated_bytes:8388608\r\n", (string)(await h.RunAsync("INFO", "memory"))!, StringComparison.Ordinal);
        await h.RunAsync("SET", "k", "v");
        Assert.Contains("cache_preallocated_bytes:4194304\r\n", (string)(await h.RunAsync("INFO", "memory"))!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Config_set_refuses_what_cannot_change_with_redis_errors_and_applies_nothing()
    {
        await using var h = new RespHarness();
        Assert.Equal(new Error("ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config"), await h.RunAsync("CONFIG", "SET", "port", "1234"));
        Assert.Equal(new Error("ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"), await h.RunAsync("CONFIG", "SET", "nosuch", "1"));
        Assert.Equal(new Error("ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"), await h.RunAsync("CONFIG", "SET", "maxmemory", "lots"));
        Assert.StartsWith("ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy')", ((Error)(await h.RunAsync("CONFIG", "SET", "maxmemory-policy", "volatile-lfu"))!).Text, StringComparison.Ordinal);
        Assert.Equal(new Error("ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter"), await h.RunAsync("CONFIG", "SET", "maxmemory", "1mb", "maxmemory", "2mb"));

        // All or nothing: the valid first pair is not applied when the second fails.
        var before = h.Store.Capacity;
        Assert.IsType<Error>(await h.RunAsync("CONFIG", "SET", "maxmemory", "1mb", "port", "1"));
        Assert.Equal(before, h.Store.Capacity);

        // Setting a fixed value to what it already is succeeds (clients restoring what they read).
        Assert.Equal(Ok, await h.RunAsync("CONFIG", "SET", "appendonly", "no", "save", ""));
        Assert.Equal(new Error("ERR wrong number of arguments for 'config|set' command"), await h.RunAsync("CONFIG", "SET", "maxmemory"));
    }

    [Fact]
    public async Task Config_get_with_several_patterns_and_hidden_settings()
    {
        await using var h = new RespHarness();
        var pairs = (object?[])(await h.RunAsync("CONFIG", "GET", "maxmemory", "maxmemory*", "bind", "*of"))!;
        var names = pairs.Where((_, i) => i % 2 == 0).Cast<string>().ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.Contains("replicaof", names);
        Assert.Contains("slaveof", names);
        Assert.Contains("maxmemory-samples", names);
        Assert.Contains("maxmemory-clients", names);
        Assert.Contains("bind", names);
        Assert.DoesNotContain("key-load-delay", ((object?[])(await h.RunAsync("CONFIG", "GET", "*"))!).OfType<string>());
        Assert.Equal(new object?[] { "key-load-delay", "0" }, await h.RunAsync("CONFIG", "GET", "key-load-delay"));
    }

    [Fact]
    public async Task Client_list_and_info_carry_redis_fields_with_real_values()
    {
        await using var h = new RespHarness();
        var info = (string)(await h.RunAsync("CLIENT", "INFO"))!;
        foreach (var field in new[] { "id=", "addr=127.0.0.1:", "laddr=", "fd=", "name=", "age=", "idle=", "flags=N", "db=0", "sub=0", "psub=0", "ssub=0", "multi=-1", "qbuf=", "qbuf-free=", "argv-mem=", "multi-mem=0", "rbs=", "rbp=", "obl=", "oll=", "omem=", "tot-mem=", "events=r", "cmd=client|info", "user=default", "redir=-1", "resp=2" })
        {
            Assert.Contains(" " + field, " " + info, StringComparison.Ordinal);
        }

        // argv-mem is the bytes of CLIENT INFO's own arguments; qbuf counts the command being run.
        Assert.Contains(" argv-mem=10 ", info, StringComparison.Ordinal);
        Assert.Matches(@" qbuf=[1-9]\d* ", info);
        await h.RunAsync("CONFIG", "GET", "x");
        await using var other = new RespHarness(h);
        var list = (string)(await other.RunAsync("CLIENT", "LIST"))!;
        Assert.Contains("cmd=config|get", list, StringComparison.Ordinal);
        Assert.Equal(2, list.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task Client_kill_closes_the_other_connection_and_checks_its_arguments()
    {
        await using var h = new RespHarness();
        await using var victim = new RespHarness(h);
        await victim.RunAsync("PING");
        var id = (long)(await victim.RunAsync("CLIENT", "ID"))!;
        Assert.Equal(new Error("ERR wrong number of arguments for 'client|kill' command"), await h.RunAsync("CLIENT", "KILL"));
        Assert.Equal(new Error("ERR client-id should be greater than 0"), await h.RunAsync("CLIENT", "KILL", "ID", "0"));
        Assert.Equal(new Error("ERR Unknown client type 'wrong'"), await h.RunAsync("CLIENT", "KILL", "TYPE", "wrong"));
        Assert.Equal(new Error("ERR No such user 'nobody'"), await h.RunAsync("CLIENT", "KILL", "USER", "nobody"));
        Assert.Equal(new Error("ERR syntax error"), await h.RunAsync("CLIENT", "KILL", "SKIPME", "maybe"));
        Assert.Equal(new Error("ERR No such client"), await h.RunAsync("CLIENT", "KILL", "10.0.0.1:1"));
        Assert.Equal(1L, await h.RunAsync("CLIENT", "KILL", "ID", id.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.True(await victim.IsClosedAsync());

        // SKIPME yes (the default) spares the caller.
        var self = (long)(await h.RunAsync("CLIENT", "ID"))!;
        Assert.Equal(0L, await h.RunAsync("CLIENT", "KILL", "ID", self.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task Client_reply_off_skip_and_on()
    {
        await using var h = new RespHarness();
        await h.SendAsync(RespReply.Command("CLIENT", "REPLY", "OFF"));
        await h.SendAsync(RespReply.Command("SET", "a", "1"));
        await h.SendAsync(RespReply.Command("GET", "a"));
        Assert.Equal(Ok, await h.RunAsync("CLIENT", "REPLY", "ON"));
        await h.SendAsync(RespReply.Command("CLIENT", "REPLY", "SKIP"));
        await h.SendAsync(RespReply.Command("GET", "a"));
        Assert.Equal("1", await h.RunAsync("GET", "a"));
        Assert.Equal(Ok, await h.RunAsync("CLIENT", "NO-EVICT", "on"));
        Assert.Equal(new Error("ERR syntax error"), await h.RunAsync("CLIENT", "NO-EVICT", "maybe"));
        Assert.Contains(" flags=e ", (string)(await h.RunAsync("CLIENT", "INFO"))!, StringComparison.Ordinal);
    }
}
