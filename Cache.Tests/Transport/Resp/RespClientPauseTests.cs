using Cache.Tests.Support;

namespace Cache.Tests.Transport.Resp;

/// <summary>
/// CLIENT PAUSE / UNPAUSE with Redis 7's semantics: a paused client's command is held, not refused, and runs (its
/// reply in its place) when CLIENT UNPAUSE comes or the timeout passes on the node's clock, which the tests move.
/// </summary>
public class RespClientPauseTests
{
    private static readonly Simple Ok = new("OK");
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>Waits (without letting time pass: the clock is the test's) until the node holds a command of <paramref name="count"/> clients.</summary>
    private static async Task HeldAsync(RespHarness h, int count)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (h.Context.Clients.Values.Count(c => c.Blocked) != count)
        {
            deadline.Token.ThrowIfCancellationRequested();
            await Task.Yield();
        }
    }

    [Fact]
    public async Task Under_write_a_write_waits_for_unpause_and_reads_run()
    {
        await using var admin = new RespHarness(time: new ManualTimeProvider(Start));
        await using var client = new RespHarness(admin);
        Assert.Equal(Ok, await admin.RunAsync("SET", "k", "old"));
        Assert.Equal(Ok, await admin.RunAsync("CLIENT", "PAUSE", "100000", "WRITE"));
        Assert.Equal("old", await client.RunAsync("GET", "k"));
        Assert.Equal(new Simple("PONG"), await client.RunAsync("PING"));

        await client.SendAsync(RespReply.Command("SET", "k", "new"));
        await HeldAsync(admin, 1);
        Assert.Contains("blocked_clients:1\r\n", (string)(await admin.RunAsync("INFO", "clients"))!, StringComparison.Ordinal);
        Assert.Matches(@"flags=b ", (string)(await admin.RunAsync("CLIENT", "LIST"))!);
        Assert.Equal("old", await admin.RunAsync("GET", "k"));

        Assert.Equal(Ok, await admin.RunAsync("CLIENT", "UNPAUSE"));
        Assert.Equal(Ok, await client.ReadAsync());
        Assert.Equal("new", await admin.RunAsync("GET", "k"));
        Assert.Contains("blocked_clients:0\r\n", (string)(await admin.RunAsync("INFO", "clients"))!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Under_all_every_command_waits_until_the_timeout_passes_on_the_nodes_clock()
    {
        var clock = new ManualTimeProvider(Start);
        await using var admin = new RespHarness(time: clock);
        await using var client = new RespHarness(admin);
        Assert.Equal(Ok, await admin.RunAsync("CLIENT", "PAUSE", "1000"));
        await client.SendAsync(RespReply.Command("PING"));
        await HeldAsync(admin, 1);

        clock.Advance(TimeSpan.FromMilliseconds(999));
        await admin.SendAsync(RespReply.Command("PING"));
        await HeldAsync(admin, 2);

        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(new Simple("PONG"), await client.ReadAsync());
        Assert.Equal(new Simple("PONG"), await admin.ReadAsync());
    }

    [Fact]
    public async Task A_pipeline_keeps_its_order_the_replies_before_the_held_command_arrive_at_once()
    {
        await using var admin = new RespHarness(time: new ManualTimeProvider(Start));
        await using var client = new RespHarness(admin);
        await admin.RunAsync("SET", "k", "1");
        await admin.RunAsync("CLIENT", "PAUSE", "100000", "WRITE");
        await client.SendAsync((byte[])[.. RespReply.Command("GET", "k"), .. RespReply.Command("INCR", "k"), .. RespReply.Command("GET", "k")]);
        Assert.Equal("1", await client.ReadAsync());
        await HeldAsync(admin, 1);

        await admin.RunAsync("CLIENT", "UNPAUSE");
        Assert.Equal(2L, await client.ReadAsync());
        Assert.Equal("2", await client.ReadAsync());
    }

    [Fact]
    public async Task Under_write_an_exec_with_a_queued_write_waits_and_a_read_only_one_does_not()
    {
        await using var admin = new RespHarness(time: new ManualTimeProvider(Start));
        await using var reader = new RespHarness(admin);
        await using var writer = new RespHarness(admin);
        await admin.RunAsync("SET", "k", "v");
        Assert.Equal(Ok, await writer.RunAsync("MULTI"));
        Assert.Equal(new Simple("QUEUED"), await writer.RunAsync("SET", "k", "w"));
        await admin.RunAsync("CLIENT", "PAUSE", "100000", "WRITE");

        Assert.Equal(Ok, await reader.RunAsync("MULTI"));
        Assert.Equal(new Simple("QUEUED"), await reader.RunAsync("GET", "k"));
        Assert.Equal(new object?[] { "v" }, await reader.RunAsync("EXEC"));

        await writer.SendAsync(RespReply.Command("EXEC"));
        await HeldAsync(admin, 1);
        Assert.Equal("v", await admin.RunAsync("GET", "k"));
        await admin.RunAsync("CLIENT", "UNPAUSE");
        Assert.Equal(new object?[] { Ok }, await writer.ReadAsync());
        Assert.Equal("w", await admin.RunAsync("GET", "k"));
    }

    [Fact]
    public async Task A_second_pause_extends_the_first_to_the_later_deadline_and_the_stricter_mode()
    {
        var clock = new ManualTimeProvider(Start);
        await using var admin = new RespHarness(time: clock);
        await using var client = new RespHarness(admin);
        await admin.RunAsync("CLIENT", "PAUSE", "2000", "WRITE");
        await admin.RunAsync("CLIENT", "PAUSE", "500", "ALL");

        await client.SendAsync(RespReply.Command("GET", "k"));
        await HeldAsync(admin, 1);
        clock.Advance(TimeSpan.FromMilliseconds(1999));
        Assert.Equal(1, admin.Context.Clients.Values.Count(c => c.Blocked));
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Null(await client.ReadAsync());
    }

    [Fact]
    public async Task A_held_client_that_is_killed_goes_without_running_its_command()
    {
        await using var admin = new RespHarness(time: new ManualTimeProvider(Start));
        await using var client = new RespHarness(admin);
        await admin.RunAsync("CLIENT", "PAUSE", "100000", "WRITE");
        await client.SendAsync(RespReply.Command("SET", "k", "v"));
        await HeldAsync(admin, 1);
        var id = admin.Context.Clients.Values.Single(c => c.Blocked).Id;

        Assert.Equal(1L, await admin.RunAsync("CLIENT", "KILL", "ID", id.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.True(await client.IsClosedAsync());
        await admin.RunAsync("CLIENT", "UNPAUSE");
        Assert.Equal(0L, await admin.RunAsync("EXISTS", "k"));
    }

    [Fact]
    public async Task A_pause_with_timeout_0_holds_nothing()
    {
        await using var admin = new RespHarness(time: new ManualTimeProvider(Start));
        Assert.Equal(Ok, await admin.RunAsync("CLIENT", "PAUSE", "0", "ALL"));
        Assert.Equal(Ok, await admin.RunAsync("SET", "k", "v"));
    }
}
