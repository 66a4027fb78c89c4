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
    public void A_flag_without_its_value_is_refused_naming_the_flag()
    {
        var ex = Assert.Throws<ArgumentException>(() => NodeArguments.Parse(["--port", "7000", "--send-lowat"]));
        Assert.Equal("--send-lowat", ex.ParamName);
    }
}
