using Cache.Dataset;
using Cache.Transport;

namespace Cache.Tests.Dataset;

public class CacheLoaderTests
{
    private static CacheNode Node() => new(new CacheNodeOptions { Capacity = 16 << 20 });

    [Fact]
    public void Get_passes_the_original_key_to_load_and_caches_the_result()
    {
        using var node = Node();
        using var loader = new CacheLoader<string>(new CacheOptions { DatasetName = "loader", Node = node });
        var seen = new List<string>();
        string Load(string key)
        {
            seen.Add(key);
            return key.ToUpperInvariant();
        }

        Assert.Equal("ÄBC/1", loader.Get("äbc/1", Load));
        Assert.Equal("ÄBC/1", loader.Get("äbc/1", Load));
        Assert.Equal(["äbc/1"], seen);
        loader.Flush();
        Assert.True(node.Store.ContainsKey(System.Text.Encoding.UTF8.GetBytes("loader:äbc/1")));
    }

    [Fact]
    public void Default_writer_buffer_of_one_writes_through()
    {
        using var node = Node();
        using var loader = new CacheLoader<int>(new CacheOptions { DatasetName = "through", Node = node });
        loader.Get("a", _ => 1);
        loader.Flush();
        Assert.Equal(1, node.Store.CountKeys("through:"u8));
    }

    [Fact]
    public void Get_with_state_allocates_no_closure_and_works()
    {
        using var node = Node();
        using var loader = new CacheLoader<int>(new CacheOptions { DatasetName = "state", Node = node });
        Assert.Equal(42, loader.Get("x", 40, static (key, s) => s + key.Length + 1));
        Assert.Equal(42, loader.Get("x", 0, static (_, _) => -1));
    }

    [Fact]
    public void GetMany_loads_only_misses_in_one_call_and_keeps_order()
    {
        using var node = Node();
        using var loader = new CacheLoader<string>(new CacheOptions { DatasetName = "getmany", Node = node, WriterBufferSize = 2 });
        loader.Get("b", k => k + "!");
        var calls = new List<IReadOnlyList<string>>();
        var values = loader.GetMany(["a", "b", "c"], keys =>
        {
            calls.Add(keys);
            return keys.Select(k => k + "!").ToList();
        });
        Assert.Equal(["a!", "b!", "c!"], values);
        Assert.Single(calls);
        Assert.Equal(["a", "c"], calls[0]);
        Assert.Equal(["a!", "b!", "c!"], loader.GetMany(["a", "b", "c"], _ => throw new InvalidOperationException("all cached")));
    }

    [Fact]
    public void GetMany_with_a_wrong_number_of_loaded_values_says_so()
    {
        using var node = Node();
        using var loader = new CacheLoader<string>(new CacheOptions { DatasetName = "wrongcount", Node = node });
        var ex = Assert.Throws<InvalidOperationException>(() => loader.GetMany(["a", "b"], _ => ["only one"]));
        Assert.Contains("one value per key", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Concurrent_loaders_on_one_dataset_agree()
    {
        using var node = Node();
        using var loader = new CacheLoader<long>(new CacheOptions { DatasetName = "concurrent", Node = node, WriterBufferSize = 7 });
        var wrong = 0;
        Parallel.For(0, 8, t =>
        {
            for (var i = 0; i < 2000; i++)
            {
                var key = (i % 300).ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (loader.Get(key, k => long.Parse(k, System.Globalization.CultureInfo.InvariantCulture) * 3) != (i % 300) * 3L)
                {
                    Interlocked.Increment(ref wrong);
                }
            }
        });
        Assert.Equal(0, wrong);
        Assert.Equal(300, loader.NumKeys());
    }
}
