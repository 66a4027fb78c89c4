using System.Net;
using System.Text;
using Cache.Engine;
using Cache.Tests.Support;
using Cache.Transport.Peer;

namespace Cache.Tests.Transport.Peer;

/// <summary>
/// The silence deadline and the background probe on a manual clock: a peer behind a <see cref="TcpRelay"/> that
/// the test holds (a stopped or cut-off member: bytes wait) and releases. Only the clock decides when a request
/// fails and when the probe runs; the test waits for the client's own work to reach its next timed wait, never
/// for time to pass.
/// </summary>
public sealed class PeerDeadlineTests : IAsyncDisposable
{
    private static readonly TimeSpan Silence = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(250);

    // Bounds how long the test waits for the client's async work (not a measured duration): a hang fails the test.
    private static readonly TimeSpan Hang = TimeSpan.FromSeconds(30);

    private readonly ManualTimeProvider _clock = new(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly TestServer _server = TestServer.Start();
    private readonly TcpRelay _relay;
    private readonly PeerClient _client;

    public PeerDeadlineTests()
    {
        _relay = new TcpRelay(new IPEndPoint(IPAddress.Loopback, _server.Port));
        _client = new PeerClient(_relay.EndPoint, new PeerClientOptions
        {
            RequestTimeout = Silence,
            ProbeInterval = ProbeInterval,
            BreakerThreshold = 1,
            TimeProvider = _clock,
        });
    }

    [Fact]
    public async Task A_silent_peer_fails_a_request_once_the_clock_passes_the_silence_allowed_and_not_before()
    {
        Assert.True(await _client.PingAsync());
        _relay.Hold();
        var armed = _clock.ArmedTimers;
        var ping = _client.PingAsync();
        await UntilAsync(() => _clock.ArmedTimers > armed);

        _clock.Advance(Silence - TimeSpan.FromMilliseconds(10));
        Assert.False(ping.IsCompleted);
        Assert.False(_client.Breaker.IsOpen);

        // Past the silence the request fails: it must not keep looking at a deadline that has passed. (One more
        // silence may be granted while the peer's kernel has not yet acknowledged the request's bytes, as with a
        // delayed ACK: a request still on its way is not the peer's silence.)
        var spent = await AdvanceUntilDoneAsync(ping, Silence + Silence);
        var failedAfter = Silence - TimeSpan.FromMilliseconds(10) + spent;
        Assert.InRange(failedAfter, Silence, Silence + Silence + TimeSpan.FromMilliseconds(10));
        Assert.False(await ping);
        Assert.Equal(1, _client.FailedRequests);
        Assert.True(_client.Breaker.IsOpen);
    }

    [Fact]
    public async Task A_batch_of_writes_allows_WriteTimeout_of_silence_rather_than_the_reads_RequestTimeout()
    {
        Assert.True(await _client.PingAsync());
        _relay.Hold();
        var armed = _clock.ArmedTimers;
        var write = _client.SetManyAsync([new(StoreKey.Copy("w"u8), [1, 2, 3])]);
        await UntilAsync(() => _clock.ArmedTimers > armed);

        // Well past the reads' 50 ms, short of the writes' 250 ms: still waiting.
        _clock.Advance(TimeSpan.FromMilliseconds(200));
        await Task.Yield();
        Assert.False(write.IsCompleted);

        await AdvanceUntilDoneAsync(write, TimeSpan.FromMilliseconds(250));
        Assert.Equal([SetResult.Failed], await write);
        Assert.Equal(1, _client.FailedRequests);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_write_asked_to_complete_inline_completes_on_the_connections_reader_thread_and_otherwise_on_the_pool(bool completeInline)
    {
        Assert.True(await _client.PingAsync());

        // Held, so that the continuation below is attached before the answer can come: it then runs where the task completes.
        _relay.Hold();
        var write = _client.SetManyAsync([new(StoreKey.Copy("inline"u8), [1, 2, 3])], completeInline);
        var completedOn = write.ContinueWith(_ => (Thread.CurrentThread.Name, Thread.CurrentThread.IsThreadPoolThread), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        _relay.Release();

        var (name, onPool) = await completedOn;
        Assert.True((await write).Single().IsStored());
        if (completeInline)
        {
            Assert.Equal("peer-client reader", name);
        }
        else
        {
            Assert.True(onPool, $"completed on {name}, not on the thread pool");
        }
    }

    [Fact]
    public void A_write_timeout_that_is_not_positive_is_refused_naming_the_option()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new PeerClient(_relay.EndPoint, new PeerClientOptions { WriteTimeout = TimeSpan.Zero }));
        Assert.Equal(nameof(PeerClientOptions.WriteTimeout), ex.ParamName);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(30)]
    public async Task An_open_breaker_is_probed_on_its_own_schedule_and_closes_within_a_probe_interval_of_the_peer_answering_whatever_the_faults_length(int faultSeconds)
    {
        Assert.True(await _client.PingAsync());
        _relay.Hold();
        var ping = _client.PingAsync();
        await UntilAsync(() => _clock.ArmedTimers > 0);
        await AdvanceUntilDoneAsync(ping, Silence + Silence + Silence);
        Assert.False(await ping);
        Assert.True(_client.Breaker.IsOpen);

        // The fault lasts: no data request comes (the breaker skips them), yet the probe keeps trying on its own.
        var fault = TimeSpan.FromSeconds(faultSeconds);
        var elapsed = TimeSpan.Zero;
        while (elapsed < fault)
        {
            await UntilAsync(() => _clock.ArmedTimers > 0);
            _clock.Advance(TimeSpan.FromMilliseconds(50));
            elapsed += TimeSpan.FromMilliseconds(50);
        }

        Assert.True(_client.Breaker.IsOpen);

        // Back. The clock moves only until the next probe starts (or the one under way completes); then that probe
        // runs on its own, with no deadline passing meanwhile. It must come within one probe interval.
        _relay.Release();
        var probes = _client.ProbesSent;
        var after = TimeSpan.Zero;
        while (_client.Breaker.IsOpen && _client.ProbesSent == probes && after <= ProbeInterval)
        {
            _clock.Advance(TimeSpan.FromMilliseconds(5));
            after += TimeSpan.FromMilliseconds(5);
            await Task.Yield();
        }

        await UntilAsync(() => !_client.Breaker.IsOpen);
        Assert.True(after <= ProbeInterval, $"the first probe after the peer answered again came {after.TotalMilliseconds} ms of the clock later");
        _server.Node.Store.Set("k"u8, "v"u8.ToArray());
        var values = await _client.GetManyAsync([StoreKey.Copy("k"u8)]);
        Assert.Equal("v", Encoding.UTF8.GetString(values![0]!.Value.Span));
    }

    public async ValueTask DisposeAsync()
    {
        _relay.Release();
        await _client.DisposeAsync();
        await _relay.DisposeAsync();
        await _server.DisposeAsync();
    }

    /// <summary>
    /// Moves the clock 10 ms at a time, each step once the client waits on it again, until <paramref name="task"/>
    /// completes; fails past <paramref name="limit"/>. Returns how far the clock moved.
    /// </summary>
    private async Task<TimeSpan> AdvanceUntilDoneAsync(Task task, TimeSpan limit)
    {
        var step = TimeSpan.FromMilliseconds(10);
        var moved = TimeSpan.Zero;
        while (!task.IsCompleted)
        {
            Assert.True(moved <= limit, $"still waiting {moved.TotalMilliseconds} ms of the clock later");
            await UntilAsync(() => task.IsCompleted || _clock.ArmedTimers > 0);
            if (task.IsCompleted)
            {
                break;
            }

            _clock.Advance(step);
            moved += step;
            await UntilAsync(() => task.IsCompleted || _clock.ArmedTimers > 0);
        }

        return moved;
    }

    /// <summary>Waits for the client's own work to reach a state (yielding the thread meanwhile); fails on a hang.</summary>
    private static async Task UntilAsync(Func<bool> condition)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(watch.Elapsed < Hang, "the client never reached the expected state");
            await Task.Delay(1);
        }
    }
}
