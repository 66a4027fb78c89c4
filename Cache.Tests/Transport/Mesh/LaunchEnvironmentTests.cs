namespace Cache.Tests.Transport.Mesh;

public class LaunchEnvironmentTests
{
    [Fact]
    public void Without_a_launcher_the_job_is_one_process()
    {
        Assert.Equal(new LaunchEnvironment(1, 0, 0, 1, 0), LaunchEnvironment.Read(new Dictionary<string, string?>()));
    }

    [Fact]
    public void Without_group_rank_ranks_are_numbered_node_by_node()
    {
        var layout = LaunchEnvironment.Read(new Dictionary<string, string?> { ["WORLD_SIZE"] = "8", ["RANK"] = "5", ["LOCAL_RANK"] = "1", ["LOCAL_WORLD_SIZE"] = "4" });
        Assert.Equal(new LaunchEnvironment(8, 5, 1, 4, 1), layout);
        Assert.Equal(3, LaunchEnvironment.Read(new Dictionary<string, string?> { ["WORLD_SIZE"] = "8", ["RANK"] = "5", ["GROUP_RANK"] = "3" }).NodeRank);
    }

    [Theory]
    [InlineData("WORLD_SIZE", "0")]
    [InlineData("RANK", "-1")]
    [InlineData("RANK", "4")]
    [InlineData("LOCAL_WORLD_SIZE", "two")]
    public void A_variable_out_of_range_is_named(string name, string value)
    {
        var variables = new Dictionary<string, string?> { ["WORLD_SIZE"] = "4", [name] = value };
        var ex = Assert.Throws<InvalidOperationException>(() => LaunchEnvironment.Read(variables));
        Assert.Contains($"{name}='{value}'", ex.Message, StringComparison.Ordinal);
    }
}
