using Cache.Node;

namespace Cache.Tests.Node;

public class NodeArgumentsTests
{
    [Fact]
    public void The_send_watermark_defaults_to_16_kb_and_takes_sizes_and_zero()
    {
        Assert.Equal(16 * 1024, NodeArguments.Parse([]).SendLowWatermark);
        Assert.Equal(64 * 1024, NodeArguments.Parse(["--send-lowat", "64kb"]).SendLowWatermark);
        Assert.Equal(0, NodeArguments.Parse(["--send-lowat", "0"]).SendLowWatermark);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("lots")]
    [InlineData("3gb")]
    public void A_wrong_send_watermark_is_refused_naming_the_flag(string value)
    {
        var ex = Assert.Throws<ArgumentException>(() => NodeArguments.Parse(["--send-lowat", value]));
        Assert.Equal("--send-lowat", ex.ParamName);
    }

    [Fact]
    public void Preallocation_defaults_to_none_and_takes_a_size_or_all_of_the_capacity_in_any_order()
    {
        Assert.Equal(0, NodeArguments.Parse([]).Preallocate);
        Assert.Equal(256L << 20, NodeArguments.Parse(["--preallocate", "256mb"]).Preallocate);
        Assert.Equal(2L << 30, NodeArguments.Parse(["--preallocate", "all", "--capacity", "2gb"]).Preallocate);
        Assert.Equal(1L << 30, NodeArguments.Parse(["--capacity", "1gb", "--preallocate", "all"]).Preallocate);
    }

    [Theory]
    [InlineData("2gb")]
    [InlineData("some")]
    [InlineData("-5")]
    public void A_wrong_preallocation_is_refused_naming_the_flag(string value)
    {
        var ex = Assert.Throws<ArgumentException>(() => NodeArguments.Parse(["--capacity", "1gb", "--preallocate", value]));
        Assert.Equal("--preallocate", ex.ParamName);
    }

    [Fact]
    public void A_flag_without_its_value_is_refused_naming_the_flag()
    {
        var ex = Assert.Throws<ArgumentException>(() => NodeArguments.Parse(["--port", "7000", "--send-lowat"]));
        Assert.Equal("--send-lowat", ex.ParamName);
    }

    [Fact]
    public void Failover_request_timeout_and_log_level_default_to_the_libraries_and_take_durations()
    {
        var defaults = NodeArguments.Parse([]);
        Assert.Equal(TimeSpan.FromSeconds(10), defaults.FailoverAfter);
        Assert.Equal(TimeSpan.FromMilliseconds(50), defaults.RequestTimeout);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Information, defaults.LogLevel);

        var set = NodeArguments.Parse(["--failover-after", "2.5s", "--request-timeout", "250ms", "--log-level", "debug"]);
        Assert.Equal(TimeSpan.FromMilliseconds(2500), set.FailoverAfter);
        Assert.Equal(TimeSpan.FromMilliseconds(250), set.RequestTimeout);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Debug, set.LogLevel);
        Assert.Equal(Timeout.InfiniteTimeSpan, NodeArguments.Parse(["--failover-after", "never"]).FailoverAfter);
        Assert.Equal(TimeSpan.FromMinutes(2), NodeArguments.Parse(["--failover-after", "2m"]).FailoverAfter);
    }

    [Theory]
    [InlineData("--failover-after", "0s")]
    [InlineData("--failover-after", "soon")]
    [InlineData("--failover-after", "-5s")]
    [InlineData("--request-timeout", "0")]
    [InlineData("--request-timeout", "never")]
    [InlineData("--log-level", "loud")]
    public void A_wrong_duration_or_level_is_refused_naming_the_flag(string flag, string value)
    {
        var ex = Assert.Throws<ArgumentException>(() => NodeArguments.Parse([flag, value]));
        Assert.Equal(flag, ex.ParamName);
    }
}
