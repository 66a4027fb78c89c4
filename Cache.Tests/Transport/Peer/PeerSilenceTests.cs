using System.Net;
using System.Text;
using Cache.Engine;
using Cache.Tests.Support;
using Cache.Transport.Peer;

namespace Cache.Tests.Transport.Peer;

public class PeerSilenceTests
{
    [Fact]
    public async Task A_request_the_peer_never_answers_fails_once_its_silence_has_passed()
    {
        await using var server = TestServer.Start();
        server.Node.Store.Set("a"u8, "value"u8);
        await using var proxy = HoldingProxy.Start(server.Port);
        var clock = new Clock();
        await using var client = new PeerClient(new IPEndPoint(IPAddress.Loopback, proxy.Port), new PeerClientOptions { RequestTimeout = TimeSpan.FromMilliseconds(50), TimeProvider = clock });
        Assert.NotNull(await client.GetManyAsync([StoreKey.Copy("a"u8)]));

        // The connection stays open but the peer says nothing more: the read waits out the silence, then is a miss.
        proxy.HoldReplies();
        var read = client.GetManyAsync([StoreKey.Copy(Encoding.UTF8.GetBytes("a"))]);
        Assert.False(read.IsCompleted);

        // Past the deadline the request must end (before, the deadline's own TimeoutException was taken for "look
        // again", and the request spun on a pool thread forever). Advanced off this thread, so that a request that
        // spins would fail this test by its bound instead of hanging it.
        _ = Task.Run(() => clock.Advance(TimeSpan.FromMilliseconds(60)));
        Assert.Null(await read.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(1, client.FailedRequests);
    }

    /// <summary>The manual clock, its timestamps included (the deadline measures silence with them).</summary>
    private sealed class Clock : TimeProvider
    {
        private readonly ManualTimeProvider _inner = new(DateTimeOffset.UnixEpoch.AddDays(20000));

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override DateTimeOffset GetUtcNow() => _inner.GetUtcNow();

        public override long GetTimestamp() => _inner.GetUtcNow().UtcTicks;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) => _inner.CreateTimer(callback, state, dueTime, period);

        public void Advance(TimeSpan by) => _inner.Advance(by);
    }
}
