using Cache.Tests.Support;
using Cache.Transport;

namespace Cache.Tests.Transport.Common;

public class CircuitBreakerTests
{
    private static readonly DateTimeOffset Start = DateTimeOffset.UnixEpoch.AddDays(20000);

    [Fact]
    public void Opens_after_the_threshold_and_skips_requests_for_the_window()
    {
        var clock = new ManualTimeProvider(Start);
        var breaker = new CircuitBreaker(3, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), clock);
        breaker.RecordFailure();
        breaker.RecordFailure();
        Assert.True(breaker.AllowRequest());
        breaker.RecordFailure();
        Assert.True(breaker.IsOpen);
        Assert.False(breaker.AllowRequest());
        clock.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(breaker.AllowRequest());
    }

    [Fact]
    public void After_the_window_one_probe_goes_out_and_its_success_closes_the_breaker()
    {
        var clock = new ManualTimeProvider(Start);
        var breaker = new CircuitBreaker(1, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), clock);
        breaker.RecordFailure();
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(breaker.AllowRequest());
        Assert.False(breaker.AllowRequest());
        breaker.RecordSuccess();
        Assert.False(breaker.IsOpen);
        Assert.True(breaker.AllowRequest());
        Assert.True(breaker.AllowRequest());
    }

    [Fact]
    public void A_failed_probe_reopens_for_a_doubled_window_up_to_the_maximum()
    {
        var clock = new ManualTimeProvider(Start);
        var breaker = new CircuitBreaker(1, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3), clock);
        breaker.RecordFailure();
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(breaker.AllowRequest());
        breaker.RecordFailure();
        clock.Advance(TimeSpan.FromMilliseconds(1999));
        Assert.False(breaker.AllowRequest());
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(breaker.AllowRequest());
        breaker.RecordFailure();
        clock.Advance(TimeSpan.FromMilliseconds(2999));
        Assert.False(breaker.AllowRequest());
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(breaker.AllowRequest());
    }
}
