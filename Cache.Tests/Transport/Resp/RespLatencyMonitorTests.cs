using Cache.Tests.Support;

namespace Cache.Tests.Transport.Resp;

/// <summary>
/// The latency monitor (LATENCY LATEST, HISTORY, RESET, DOCTOR, GRAPH with <c>latency-monitor-threshold</c>): command
/// durations come from the node's clock, which each test moves by a set step per timestamp read, so a command takes
/// exactly as long as the test says.
/// </summary>
public class RespLatencyMonitorTests
{
    private static readonly Simple Ok = new("OK");
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private static long StartSeconds => Start.ToUnixTimeSeconds();

    [Fact]
    public async Task Nothing_is_recorded_while_the_threshold_is_0_the_default()
    {
        var clock = new CommandClock(Start);
        await using var h = new RespHarness(time: clock);
        Assert.Equal(new object?[] { "latency-monitor-threshold", "0" }, await h.RunAsync("CONFIG", "GET", "latency-monitor-threshold"));
        clock.Step = TimeSpan.FromSeconds(2);
        await h.RunAsync("SET", "k", "v");
        clock.Step = TimeSpan.Zero;
        Assert.Equal(Array.Empty<object?>(), await h.RunAsync("LATENCY", "LATEST"));
        Assert.StartsWith("I'm sorry, Dave, I can't do that. Latency monitoring is disabled", (string)(await h.RunAsync("LATENCY", "DOCTOR"))!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_command_at_or_over_the_threshold_is_a_sample_of_its_event_and_a_faster_one_is_not()
    {
        var clock = new CommandClock(Start);
        await using var h = new RespHarness(time: clock);
        Assert.Equal(Ok, await h.RunAsync("CONFIG", "SET", "latency-monitor-threshold", "100"));
        Assert.Equal(new object?[] { "latency-monitor-threshold", "100" }, await h.RunAsync("CONFIG", "GET", "latency-monitor-threshold"));

        // SETRANGE is not flagged fast: "command". GET is: "fast-command".
        clock.Step = TimeSpan.FromMilliseconds(99);
        await h.RunAsync("SETRANGE", "k", "0", "v");
        clock.Step = TimeSpan.Zero;
        Assert.Equal(Array.Empty<object?>(), await h.RunAsync("LATENCY", "LATEST"));
        clock.Step = TimeSpan.FromMilliseconds(150);
        await h.RunAsync("SETRANGE", "k", "0", "v");
        clock.Step = TimeSpan.FromMilliseconds(100);
        await h.RunAsync("GET", "k");
        clock.Step = TimeSpan.Zero;

        var latest = ((object?[])(await h.RunAsync("LATENCY", "LATEST"))!).Cast<object?[]>().OrderBy(e => (string)e[0]!, StringComparer.Ordinal).ToList();
        var second = StartSeconds;
        Assert.Equal(2, latest.Count);
        Assert.Equal(new object?[] { "command", second, 150L, 150L }, latest[0]);
        Assert.Equal(new object?[] { "fast-command", second, 100L, 100L }, latest[1]);
        Assert.Equal(new object?[] { new object?[] { second, 150L } }, await h.RunAsync("LATENCY", "HISTORY", "command"));
    }

    [Fact]
    public async Task One_sample_per_second_keeps_the_worst_and_the_all_time_worst_outlives_it()
    {
        var clock = new CommandClock(Start);
        await using var h = new RespHarness(time: clock);
        await h.RunAsync("CONFIG", "SET", "latency-monitor-threshold", "10");
        var first = StartSeconds;
        clock.Step = TimeSpan.FromMilliseconds(40);
        await h.RunAsync("SETRANGE", "k", "0", "v");
        clock.Step = TimeSpan.FromMilliseconds(70);
        await h.RunAsync("SETRANGE", "k", "0", "v");
        clock.Step = TimeSpan.FromMilliseconds(20);
        await h.RunAsync("SETRANGE", "k", "0", "v");

        // Each timestamp read moved the clock; the three commands took 260 ms, all within the first second.
        clock.Step = TimeSpan.Zero;
        clock.Advance(TimeSpan.FromSeconds(5));
        var later = clock.GetUtcNow().ToUnixTimeSeconds();
        clock.Step = TimeSpan.FromMilliseconds(30);
        await h.RunAsync("SETRANGE", "k", "0", "v");
        clock.Step = TimeSpan.Zero;

        Assert.Equal(new object?[] { new object?[] { first, 70L }, new object?[] { later, 30L } }, await h.RunAsync("LATENCY", "HISTORY", "command"));
        Assert.Equal(new object?[] { new object?[] { "command", later, 30L, 70L } }, await h.RunAsync("LATENCY", "LATEST"));
        var doctor = (string)(await h.RunAsync("LATENCY", "DOCTOR"))!;
        Assert.Contains("1. command: 2 latency spikes (average 50ms, mean deviation 20ms, period 2.50 sec). Worst all time event 70ms.", doctor, StringComparison.Ordinal);
        var graph = (string)(await h.RunAsync("LATENCY", "GRAPH", "command"))!;
        Assert.StartsWith("command - high 70 ms, low 30 ms\n", graph, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reset_forgets_the_named_events_or_all_and_says_how_many()
    {
        var clock = new CommandClock(Start);
        await using var h = new RespHarness(time: clock);
        await h.RunAsync("CONFIG", "SET", "latency-monitor-threshold", "1");
        clock.Step = TimeSpan.FromMilliseconds(5);
        await h.RunAsync("SETRANGE", "k", "0", "v");
        await h.RunAsync("GET", "k");
        clock.Step = TimeSpan.Zero;
        Assert.Equal(1L, await h.RunAsync("LATENCY", "RESET", "command", "nosuch"));
        Assert.Equal(Array.Empty<object?>(), await h.RunAsync("LATENCY", "HISTORY", "command"));
        Assert.Equal(new Error("ERR No samples available for event 'command'"), await h.RunAsync("LATENCY", "GRAPH", "command"));
        Assert.Equal(1L, await h.RunAsync("LATENCY", "RESET"));
        Assert.Equal(Array.Empty<object?>(), await h.RunAsync("LATENCY", "LATEST"));
        Assert.Equal("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep better.\n", await h.RunAsync("LATENCY", "DOCTOR"));
    }

    [Theory]
    [InlineData("-1", "argument must be between 0 and 9223372036854775807 inclusive")]
    [InlineData("x", "argument couldn't be parsed into an integer")]
    public async Task A_bad_threshold_is_refused_with_redis_text_and_changes_nothing(string value, string why)
    {
        await using var h = new RespHarness();
        await h.RunAsync("CONFIG", "SET", "latency-monitor-threshold", "7");
        Assert.Equal(new Error($"ERR CONFIG SET failed (possibly related to argument 'latency-monitor-threshold') - {why}"), await h.RunAsync("CONFIG", "SET", "latency-monitor-threshold", value));
        Assert.Equal(new object?[] { "latency-monitor-threshold", "7" }, await h.RunAsync("CONFIG", "GET", "latency-monitor-threshold"));
    }

    [Fact]
    public async Task Latest_is_an_array_of_arrays_and_doctor_a_verbatim_string_under_resp3()
    {
        var clock = new CommandClock(Start);
        await using var h = new RespHarness(time: clock);
        await h.RunAsync("HELLO", "3");
        await h.RunAsync("CONFIG", "SET", "latency-monitor-threshold", "1");
        clock.Step = TimeSpan.FromMilliseconds(3);
        await h.RunAsync("SETRANGE", "k", "0", "v");
        clock.Step = TimeSpan.Zero;
        Assert.Equal($"*1\r\n*4\r\n$7\r\ncommand\r\n:{StartSeconds}\r\n:3\r\n:3\r\n", await h.RunRawAsync("LATENCY", "LATEST"));
        Assert.StartsWith("=", await h.RunRawAsync("LATENCY", "DOCTOR"), StringComparison.Ordinal);
    }
}
