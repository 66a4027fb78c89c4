using Cache.Dataset;
using Cache.Transport;

namespace Cache.Tests.Dataset;

public class CacheOptionsTests
{
    private static readonly int[] Source = [1, 2, 3];

    private static ArgumentException Invalid(CacheOptions options) =>
        Assert.ThrowsAny<ArgumentException>(() => new CachedDataset<int>(Source, options));

    [Theory]
    [InlineData(-1L)]
    [InlineData(0L)]
    public void Non_positive_capacity_throws_naming_CapacityPerNode(long capacity)
    {
        Assert.Equal("CapacityPerNode", Invalid(new CacheOptions { DatasetName = "d", CapacityPerNode = capacity }).ParamName);
    }

    [Theory]
    [InlineData(-1L)]
    [InlineData((64L << 20) + 1)]
    public void Preallocation_below_zero_or_above_the_capacity_throws_naming_PreallocatePerNode(long bytes)
    {
        Assert.Equal("PreallocatePerNode", Invalid(new CacheOptions { DatasetName = "d", CapacityPerNode = 64L << 20, PreallocatePerNode = bytes, Node = null, ClusterMode = false }).ParamName);
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("a:b")]
    [InlineData("{tag}")]
    [InlineData("é")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    public void Empty_or_invalid_dataset_name_throws_naming_DatasetName(string name)
    {
        Assert.Equal("DatasetName", Invalid(new CacheOptions { DatasetName = name }).ParamName);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void Writer_buffer_below_one_throws_naming_WriterBufferSize(int size)
    {
        Assert.Equal("WriterBufferSize", Invalid(new CacheOptions { DatasetName = "d", WriterBufferSize = size }).ParamName);
    }

    [Fact]
    public void Unknown_backend_throws_naming_Backend()
    {
        Assert.Equal("Backend", Invalid(new CacheOptions { DatasetName = "d", Backend = "memcached" }).ParamName);
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("localhost:0")]
    [InlineData("localhost:70000")]
    [InlineData(":6379")]
    public void Malformed_host_throws_naming_Hosts(string host)
    {
        Assert.Equal("Hosts", Invalid(new CacheOptions { DatasetName = "d", Hosts = [host] }).ParamName);
    }

    [Fact]
    public void An_unreachable_host_fails_at_construction_naming_it()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => new CachedDataset<int>(Source, new CacheOptions { DatasetName = "d", Hosts = ["127.0.0.1:1"] }));
        Assert.Contains("127.0.0.1:1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Valid_names_are_accepted()
    {
        using var node = new CacheNode(new CacheNodeOptions { Capacity = 1 << 20 });
        using var dataset = new CachedDataset<int>(Source, new CacheOptions { DatasetName = "Image_Net-1k.v2", Node = node });
        Assert.Equal("Image_Net-1k.v2", dataset.DatasetName);
        Assert.Equal(2, dataset[1]);
    }
}
