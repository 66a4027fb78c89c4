using Cache.Tests.Support;

namespace Cache.Tests.Transport.Resp;

/// <summary>MULTI, EXEC, DISCARD, WATCH and UNWATCH with Redis's replies and errors, on one node.</summary>
public class RespTransactionTests
{
    private static readonly Simple Ok = new("OK");
    private static readonly Simple Queued = new("QUEUED");

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Exec_runs_the_queued_commands_and_replies_with_their_replies(int protocol)
    {
        await using var h = new RespHarness();
        await h.RunAsync("HELLO", protocol.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(Ok, await h.RunAsync("MULTI"));
        Assert.Equal(Queued, await h.RunAsync("SET", "k", "1"));
        Assert.Equal(Queued, await h.RunAsync("INCR", "k"));
        Assert.Equal(Queued, await h.RunAsync("GET", "k"));
        Assert.Equal(Queued, await h.RunAsync("GET", "missing"));

        // Nothing ran before EXEC.
        Assert.False(h.Store.ContainsKey("k"u8));
        var replies = (object?[])(await h.RunAsync("EXEC"))!;
        Assert.Equal([Ok, 2L, "2", null], replies);
        Assert.Equal("2", await h.RunAsync("GET", "k"));
    }

    [Fact]
    public async Task A_runtime_error_inside_exec_is_that_command_reply_and_the_others_still_run()
    {
        await using var h = new RespHarness();
        await h.RunAsync("SET", "text", "abc");
        await h.RunAsync("MULTI");
        await h.RunAsync("INCR", "text");
        await h.RunAsync("SET", "other", "x");
        var replies = (object?[])(await h.RunAsync("EXEC"))!;
        Assert.Equal(new Error("ERR value is not an integer or out of range"), replies[0]);
        Assert.Equal(Ok, replies[1]);
        Assert.Equal("x", await h.RunAsync("GET", "other"));
    }

    [Fact]
    public async Task A_command_refused_while_queueing_makes_exec_abort_and_nothing_runs()
    {
        await using var h = new RespHarness();
        await h.RunAsync("MULTI");
        Assert.Equal(Queued, await h.RunAsync("SET", "a", "1"));
        Assert.Equal(new Error("ERR wrong number of arguments for 'get' command"), await h.RunAsync("GET"));
        Assert.Equal(new Error("ERR unknown command 'nope', with args beginning with: "), await h.RunAsync("nope"));
        Assert.Equal(new Error("EXECABORT Transaction discarded because of previous errors."), await h.RunAsync("EXEC"));
        Assert.Null(await h.RunAsync("GET", "a"));

        // The transaction is over.
        Assert.Equal(new Error("ERR EXEC without MULTI"), await h.RunAsync("EXEC"));
    }

    [Fact]
    public async Task Transaction_commands_outside_and_inside_a_transaction_get_redis_errors()
    {
        await using var h = new RespHarness();
        Assert.Equal(new Error("ERR EXEC without MULTI"), await h.RunAsync("EXEC"));
        Assert.Equal(new Error("ERR DISCARD without MULTI"), await h.RunAsync("DISCARD"));
        Assert.Equal(Ok, await h.RunAsync("MULTI"));
        Assert.Equal(new Error("ERR MULTI calls can not be nested"), await h.RunAsync("MULTI"));
        Assert.Equal(new Error("ERR WATCH inside MULTI is not allowed"), await h.RunAsync("WATCH", "k"));

        // Neither error aborts the transaction (Redis replies to them without flagging it).
        Assert.Equal(Queued, await h.RunAsync("SET", "k", "v"));
        Assert.Equal(new object?[] { Ok }, await h.RunAsync("EXEC"));
    }

    [Fact]
    public async Task Discard_drops_the_queue_and_the_watched_keys()
    {
        await using var h = new RespHarness();
        await h.RunAsync("WATCH", "w");
        await h.RunAsync("MULTI");
        await h.RunAsync("SET", "a", "1");
        Assert.Equal(Ok, await h.RunAsync("DISCARD"));
        Assert.Null(await h.RunAsync("GET", "a"));

        // w is no longer watched: changing it does not abort the next transaction.
        await h.RunAsync("SET", "w", "changed");
        await h.RunAsync("MULTI");
        await h.RunAsync("SET", "a", "2");
        Assert.Equal(new object?[] { Ok }, await h.RunAsync("EXEC"));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task A_watched_key_changed_by_another_client_makes_exec_reply_null(int protocol)
    {
        await using var node = new RespHarness();
        await using var other = new RespHarness(node);
        await node.RunAsync("HELLO", protocol.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await node.RunAsync("SET", "balance", "10");
        Assert.Equal(Ok, await node.RunAsync("WATCH", "balance"));
        Assert.Equal(Ok, await other.RunAsync("SET", "balance", "10"));
        await node.RunAsync("MULTI");
        await node.RunAsync("SET", "balance", "20");
        Assert.Null(await node.RunAsync("EXEC"));
        Assert.Equal("10", await node.RunAsync("GET", "balance"));
    }

    [Theory]
    [InlineData("DEL", "k")]
    [InlineData("EXPIRE", "k", "100")]
    [InlineData("APPEND", "k", "x")]
    [InlineData("FLUSHALL")]
    public async Task Every_kind_of_change_to_a_watched_key_aborts(params string[] change)
    {
        await using var h = new RespHarness();
        await using var other = new RespHarness(h);
        await h.RunAsync("SET", "k", "v");
        await h.RunAsync("WATCH", "k");
        Assert.IsNotType<Error>(await other.RunAsync(change));
        await h.RunAsync("MULTI");
        await h.RunAsync("PING");
        Assert.Null(await h.RunAsync("EXEC"));
    }

    [Fact]
    public async Task A_write_through_the_store_itself_aborts_too()
    {
        // "Changed by anyone": the library's own data path writes the store directly, not through RESP.
        await using var h = new RespHarness();
        await h.RunAsync("SET", "k", "v");
        await h.RunAsync("WATCH", "k");
        h.Store.Set("k"u8, "v"u8);
        await h.RunAsync("MULTI");
        await h.RunAsync("GET", "k");
        Assert.Null(await h.RunAsync("EXEC"));
    }

    [Fact]
    public async Task Reads_of_a_watched_key_and_writes_of_other_keys_do_not_abort()
    {
        await using var h = new RespHarness();
        await using var other = new RespHarness(h);
        await h.RunAsync("SET", "k", "v");
        await h.RunAsync("WATCH", "k", "absent");
        await other.RunAsync("GET", "k");
        await other.RunAsync("SET", "unrelated", "x");
        await other.RunAsync("EXISTS", "k");
        await h.RunAsync("MULTI");
        await h.RunAsync("GET", "k");
        Assert.Equal(new object?[] { "v" }, await h.RunAsync("EXEC"));
    }

    [Fact]
    public async Task Flushall_does_not_touch_a_watched_key_that_did_not_exist()
    {
        await using var h = new RespHarness();
        await using var other = new RespHarness(h);
        await h.RunAsync("WATCH", "absent");
        await other.RunAsync("SET", "x", "1");
        await other.RunAsync("FLUSHALL");
        await h.RunAsync("MULTI");
        await h.RunAsync("PING");
        Assert.Equal(new object?[] { new Simple("PONG") }, await h.RunAsync("EXEC"));
    }

    [Fact]
    public async Task Unwatch_forgets_the_keys_and_exec_unwatches_them()
    {
        await using var h = new RespHarness();
        await h.RunAsync("SET", "k", "1");
        await h.RunAsync("WATCH", "k");
        Assert.Equal(Ok, await h.RunAsync("UNWATCH"));
        await h.RunAsync("SET", "k", "2");
        await h.RunAsync("MULTI");
        await h.RunAsync("GET", "k");
        Assert.Equal(new object?[] { "2" }, await h.RunAsync("EXEC"));

        // After a failed EXEC, the key is not watched any more either.
        await h.RunAsync("WATCH", "k");
        await h.RunAsync("SET", "k", "3");
        await h.RunAsync("MULTI");
        await h.RunAsync("GET", "k");
        Assert.Null(await h.RunAsync("EXEC"));
        await h.RunAsync("SET", "k", "4");
        await h.RunAsync("MULTI");
        await h.RunAsync("GET", "k");
        Assert.Equal(new object?[] { "4" }, await h.RunAsync("EXEC"));
    }

    [Fact]
    public async Task Keys_commands_inside_exec_reply_in_place()
    {
        // KEYS and FLUSHDB usually leave the event thread; inside EXEC they must reply inside the array.
        await using var h = new RespHarness();
        await h.RunAsync("SET", "a", "1");
        await h.RunAsync("MULTI");
        await h.RunAsync("KEYS", "*");
        await h.RunAsync("FLUSHDB");
        await h.RunAsync("DBSIZE");
        var replies = (object?[])(await h.RunAsync("EXEC"))!;
        Assert.Equal(new object?[] { "a" }, replies[0]);
        Assert.Equal(Ok, replies[1]);
        Assert.Equal(0L, replies[2]);
    }

    [Fact]
    public async Task Reset_ends_the_transaction()
    {
        await using var h = new RespHarness();
        await h.RunAsync("MULTI");
        await h.RunAsync("SET", "a", "1");
        Assert.Equal(new Simple("RESET"), await h.RunAsync("RESET"));
        Assert.Equal(new Error("ERR EXEC without MULTI"), await h.RunAsync("EXEC"));
        Assert.Null(await h.RunAsync("GET", "a"));
    }

    [Fact]
    public async Task Client_list_shows_the_transaction()
    {
        await using var h = new RespHarness();
        await h.RunAsync("MULTI");
        await h.RunAsync("SET", "a", "1");
        await h.RunAsync("SET", "b", "2");
        await h.RunAsync("EXEC");
        await h.RunAsync("MULTI");
        await h.RunAsync("SET", "a", "1");
        await using var other = new RespHarness(h);
        var list = (string)(await other.RunAsync("CLIENT", "LIST"))!;
        Assert.Contains("flags=x ", list, StringComparison.Ordinal);
        Assert.Contains("multi=1 ", list, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task A_write_queued_while_the_store_is_full_is_refused_with_oom_and_discard_still_works(int protocol)
    {
        // Redis's "DISCARD should not fail during OOM": maxmemory 1 leaves no room for any key.
        await using var h = new RespHarness();
        await h.RunAsync("HELLO", protocol.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(Ok, await h.RunAsync("CONFIG", "SET", "maxmemory", "1"));
        Assert.Equal(Ok, await h.RunAsync("MULTI"));
        Assert.Equal(new Error("OOM command not allowed when used memory > 'maxmemory'."), await h.RunAsync("SET", "x", "1"));
        Assert.Equal(Queued, await h.RunAsync("GET", "x"));
        Assert.Equal(Ok, await h.RunAsync("DISCARD"));
        Assert.Equal(Ok, await h.RunAsync("CONFIG", "SET", "maxmemory", "0"));
        Assert.Equal(Ok, await h.RunAsync("SET", "x", "1"));
    }

    [Fact]
    public async Task Exec_fails_with_oom_when_the_store_filled_after_a_write_was_queued_and_a_read_only_exec_runs()
    {
        await using var h = new RespHarness();
        await using var admin = new RespHarness(h);
        await h.RunAsync("SET", "x", "value");
        await h.RunAsync("MULTI");
        await h.RunAsync("GET", "x");
        await h.RunAsync("PING");
        await admin.RunAsync("CONFIG", "SET", "maxmemory", "1");
        Assert.Equal(new object?[] { "value", new Simple("PONG") }, await h.RunAsync("EXEC"));

        await h.RunAsync("CONFIG", "SET", "maxmemory", "0");
        await h.RunAsync("MULTI");
        await h.RunAsync("SET", "x", "1");
        await admin.RunAsync("CONFIG", "SET", "maxmemory", "1");
        Assert.Equal(new Error("EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'."), await h.RunAsync("EXEC"));
        Assert.Equal(new Error("ERR EXEC without MULTI"), await h.RunAsync("EXEC"));
        await admin.RunAsync("CONFIG", "SET", "maxmemory", "0");
        Assert.Equal("value", await h.RunAsync("GET", "x"));
    }

    [Fact]
    public async Task Exec_with_arguments_discards_the_transaction_with_execabort()
    {
        await using var h = new RespHarness();
        await h.RunAsync("MULTI");
        await h.RunAsync("SET", "x", "1");
        Assert.Equal(new Error("EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command"), await h.RunAsync("EXEC", "now"));
        Assert.Equal(new Error("ERR EXEC without MULTI"), await h.RunAsync("EXEC"));
        Assert.Equal(0L, await h.RunAsync("EXISTS", "x"));
    }
}
