using System.Text;
using Cache.Dataset;
using Cache.Engine;
using Cache.Tests.Support;
using Cache.Transport;
using MessagePack;

namespace Cache.Tests.Dataset;

public class CachedDatasetTests
{
    /// <summary>A source that counts how often each sample is produced and makes deterministic bytes.</summary>
    private sealed class CountingSource(int count, int sampleBytes, bool compressible = false) : IDataset<byte[]>
    {
        private int _produced;

        public int Produced => Volatile.Read(ref _produced);

        public int Count => count;

        public byte[] this[int index]
        {
            get
            {
                Interlocked.Increment(ref _produced);
                return Expected(index, sampleBytes, compressible);
            }
        }

        public static byte[] Expected(int index, int bytes, bool compressible)
        {
            var data = new byte[bytes];
            if (compressible)
            {
                for (var i = 0; i < bytes; i++)
                {
                    data[i] = (byte)((index + (i / 64)) % 7);
                }
            }
            else
            {
                new Random(index).NextBytes(data);
            }

            return data;
        }
    }

    private static CacheNode Node(long capacity = 64 << 20) => new(new CacheNodeOptions { Capacity = capacity });

    [Fact]
    public void Second_read_is_a_hit_and_the_source_is_not_called_again()
    {
        using var node = Node();
        var source = new CountingSource(10, 100);
        using var dataset = new CachedDataset<byte[]>(source, new CacheOptions { DatasetName = "hits", Node = node });
        for (var epoch = 0; epoch < 3; epoch++)
        {
            for (var i = 0; i < 10; i++)
            {
                Assert.Equal(CountingSource.Expected(i, 100, false), dataset[i]);
            }
        }

        Assert.Equal(10, source.Produced);
        Assert.Equal(10, dataset.Statistics.Misses);
        Assert.Equal(20, dataset.Statistics.Hits);
    }

    [Fact]
    public void Unflushed_writes_are_visible_to_reads()
    {
        using var node = Node();
        var source = new CountingSource(5, 64);
        using var dataset = new CachedDataset<byte[]>(source, new CacheOptions { DatasetName = "unflushed", Node = node, WriterBufferSize = 100 });
        for (var i = 0; i < 5; i++)
        {
            _ = dataset[i];
        }

        Assert.Equal(0, node.Store.CountKeys("unflushed:"u8));
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(CountingSource.Expected(i, 64, false), dataset[i]);
        }

        Assert.Equal(5, source.Produced);
        Assert.Equal(5, dataset.Statistics.BufferHits);
    }

    [Fact]
    public void Buffer_flushes_when_it_reaches_the_writer_buffer_size()
    {
        using var node = Node();
        using var dataset = new CachedDataset<byte[]>(new CountingSource(10, 8), new CacheOptions { DatasetName = "autoflush", Node = node, WriterBufferSize = 4 });
        for (var i = 0; i < 3; i++)
        {
            _ = dataset[i];
        }

        Assert.Equal(0, node.Store.CountKeys("autoflush:"u8));
        _ = dataset[3];

        // The background writer has four now and writes them; Flush only waits for that write.
        dataset.Flush();
        Assert.Equal(4, node.Store.CountKeys("autoflush:"u8));
    }

    [Fact]
    public void Dispose_flushes_the_buffer()
    {
        using var node = Node();
        var dataset = new CachedDataset<byte[]>(new CountingSource(7, 32), new CacheOptions { DatasetName = "disposeflush", Node = node, WriterBufferSize = 1000 });
        for (var i = 0; i < 7; i++)
        {
            _ = dataset[i];
        }

        Assert.Equal(0, node.Store.CountKeys("disposeflush:"u8));
        dataset.Dispose();
        Assert.Equal(7, node.Store.CountKeys("disposeflush:"u8));
        Assert.True(node.Store.TryGet("disposeflush:3"u8, out _));
    }

    [Fact]
    public void NumKeys_and_Clear_touch_one_dataset_only()
    {
        using var node = Node();
        using var a = new CachedDataset<byte[]>(new CountingSource(6, 16), new CacheOptions { DatasetName = "a", Node = node });
        using var ab = new CachedDataset<byte[]>(new CountingSource(4, 16), new CacheOptions { DatasetName = "ab", Node = node });
        node.Store.Set("a-raw-key"u8, "x"u8);
        for (var i = 0; i < 6; i++)
        {
            _ = a[i];
        }

        for (var i = 0; i < 4; i++)
        {
            _ = ab[i];
        }

        Assert.Equal(6, a.NumKeys());
        Assert.Equal(4, ab.NumKeys());
        a.Clear();
        Assert.Equal(0, a.NumKeys());
        Assert.Equal(4, ab.NumKeys());
        Assert.True(node.Store.ContainsKey("a-raw-key"u8));
        Assert.Equal(5, node.Store.Count);
    }

    [Fact]
    public void Datasets_sharing_the_store_keep_their_samples_apart()
    {
        using var node = Node();
        using var first = new CachedDataset<string>(["x0", "x1"], new CacheOptions { DatasetName = "first", Node = node, WriterBufferSize = 1 });
        using var second = new CachedDataset<string>(["y0", "y1"], new CacheOptions { DatasetName = "second", Node = node, WriterBufferSize = 1 });
        Assert.Equal("x1", first[1]);
        Assert.Equal("y1", second[1]);
        Assert.Equal("x1", first[1]);
        Assert.Equal("y1", second[1]);
        first.Flush();
        second.Flush();
        Assert.True(node.Store.ContainsKey("first:1"u8));
        Assert.True(node.Store.ContainsKey("second:1"u8));
    }

    [Fact]
    public void Null_samples_are_cached_as_null_and_not_recomputed()
    {
        using var node = Node();
        var calls = 0;
        using var loader = new CacheLoader<string?>(new CacheOptions { DatasetName = "nulls", Node = node });
        for (var i = 0; i < 3; i++)
        {
            Assert.Null(loader.Get("k", _ =>
            {
                calls++;
                return null;
            }));
        }

        Assert.Equal(1, calls);
        Assert.Equal(2, loader.Statistics.Hits);

        var produced = 0;
        using var bytes = new CachedDataset<byte[]?>(new Func<IReadOnlyList<byte[]?>>(() => new NullBytes(() => produced++))(), new CacheOptions { DatasetName = "nullbytes", Node = node, WriterBufferSize = 1 });
        Assert.Null(bytes[0]);
        Assert.Null(bytes[0]);
        Assert.Equal(1, produced);
    }

    private sealed class NullBytes(Action onProduce) : IReadOnlyList<byte[]?>
    {
        public int Count => 1;

        public byte[]? this[int index]
        {
            get
            {
                onProduce();
                return null;
            }
        }

        public IEnumerator<byte[]?> GetEnumerator()
        {
            yield return this[0];
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Many_threads_read_exactly_the_bytes_the_source_produced(bool compressible)
    {
        const int Count = 400;
        const int Bytes = 3000;
        using var node = Node();
        var source = new CountingSource(Count, Bytes, compressible);
        using var dataset = new CachedDataset<byte[]>(source, new CacheOptions { DatasetName = "threads" + compressible, Node = node });
        var expected = Enumerable.Range(0, Count).Select(i => CountingSource.Expected(i, Bytes, compressible)).ToArray();
        var failures = 0;
        var threads = Enumerable.Range(0, 8).Select(t => new Thread(() =>
        {
            var random = new Random(t);
            for (var epoch = 0; epoch < 3; epoch++)
            {
                foreach (var i in Enumerable.Range(0, Count).OrderBy(_ => random.Next()))
                {
                    if (!dataset[i].AsSpan().SequenceEqual(expected[i]))
                    {
                        Interlocked.Increment(ref failures);
                    }
                }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        Assert.Equal(0, failures);
        Assert.True(dataset.Statistics.Hits > 0);
        dataset.Flush();
        Assert.Equal(Count, dataset.NumKeys());
        if (compressible)
        {
            Assert.True(node.Store.BytesUsed < Count * (long)Bytes / 2, "compressible samples should be stored compressed");
        }
    }

    [Fact]
    public void A_returned_byte_array_is_the_callers_own()
    {
        using var node = Node();
        using var dataset = new CachedDataset<byte[]>(new CountingSource(1, 16), new CacheOptions { DatasetName = "own", Node = node, WriterBufferSize = 1 });
        var first = dataset[0];
        var second = dataset[0];
        second[0] ^= 0xFF;
        Assert.Equal(CountingSource.Expected(0, 16, false), dataset[0]);
        Assert.NotSame(first, second);
    }

    [Fact]
    public void ReadOnlyMemory_samples_pass_through()
    {
        using var node = Node();
        ReadOnlyMemory<byte>[] samples = [new byte[] { 1, 2, 3 }, new byte[] { 4 }];
        using var dataset = new CachedDataset<ReadOnlyMemory<byte>>(samples, new CacheOptions { DatasetName = "rom", Node = node, WriterBufferSize = 1, Compression = SampleCompression.None });
        _ = dataset[0];
        Assert.Equal(new byte[] { 1, 2, 3 }, dataset[0].ToArray());
        dataset.Flush();
        Assert.True(node.Store.TryGet("rom:0"u8, out var stored));
        Assert.Equal(new byte[] { (byte)ValueFormat.Raw, 1, 2, 3 }, stored.ToArray());
    }

    [MessagePackObject]
    public sealed record Sample([property: Key(0)] int Label, [property: Key(1)] float[] Features, [property: Key(2)] string Path);

    [Fact]
    public void MessagePack_samples_round_trip()
    {
        using var node = Node();
        var source = Enumerable.Range(0, 20).Select(i => new Sample(i % 3, [i, i * 0.5f], $"img/{i}.jpg")).ToArray();
        using var dataset = new CachedDataset<Sample>(source, new CacheOptions { DatasetName = "msgpack", Node = node, WriterBufferSize = 1 });
        for (var epoch = 0; epoch < 2; epoch++)
        {
            for (var i = 0; i < source.Length; i++)
            {
                var got = dataset[i];
                Assert.Equal(source[i].Label, got.Label);
                Assert.Equal(source[i].Features, got.Features);
                Assert.Equal(source[i].Path, got.Path);
            }
        }

        Assert.Equal(20, dataset.Statistics.Hits);
    }

    [Fact]
    public void GetMany_returns_samples_in_order_and_produces_only_misses()
    {
        using var node = Node();
        var source = new CountingSource(50, 40);
        using var dataset = new CachedDataset<byte[]>(source, new CacheOptions { DatasetName = "many", Node = node, WriterBufferSize = 1 });
        _ = dataset[3];
        _ = dataset[7];
        int[] indices = [7, 1, 3, 49, 0];
        var samples = dataset.GetMany(indices);
        Assert.Equal(5, source.Produced);
        for (var i = 0; i < indices.Length; i++)
        {
            Assert.Equal(CountingSource.Expected(indices[i], 40, false), samples[i]);
        }

        samples = dataset.GetMany(indices);
        Assert.Equal(5, source.Produced);
    }

    [Fact]
    public void Sample_larger_than_the_capacity_is_rejected_without_an_exception()
    {
        using var node = Node(capacity: 8 * 1024);
        var source = new CountingSource(2, 64 * 1024);
        using var dataset = new CachedDataset<byte[]>(source, new CacheOptions { DatasetName = "big", Node = node, WriterBufferSize = 1 });
        Assert.Equal(CountingSource.Expected(0, 64 * 1024, false), dataset[0]);
        dataset.Flush();
        Assert.Equal(CountingSource.Expected(0, 64 * 1024, false), dataset[0]);
        dataset.Flush();
        Assert.Equal(2, source.Produced);
        Assert.Equal(2, dataset.Statistics.Rejected);
        Assert.Equal(1, node.Store.GetStatistics().RejectedTooLarge > 0 ? 1 : 0);
    }

    [Fact]
    public void A_corrupt_cached_value_is_recomputed()
    {
        using var node = Node();
        var source = new CountingSource(1, 10);
        node.Store.Set("corrupt:0"u8, new byte[] { 0x77, 1, 2 });
        using var dataset = new CachedDataset<byte[]>(source, new CacheOptions { DatasetName = "corrupt", Node = node, WriterBufferSize = 1 });
        Assert.Equal(CountingSource.Expected(0, 10, false), dataset[0]);
        Assert.Equal(1, source.Produced);
        Assert.Equal(1, dataset.Statistics.Corrupt);
    }

    [Fact]
    public void Out_of_range_index_throws()
    {
        using var node = Node();
        using var dataset = new CachedDataset<byte[]>(new CountingSource(2, 1), new CacheOptions { DatasetName = "range", Node = node });
        Assert.Throws<ArgumentOutOfRangeException>(() => dataset[2]);
        Assert.Throws<ArgumentOutOfRangeException>(() => dataset[-1]);
    }

    [Fact]
    public void The_first_dataset_fixes_the_process_capacity_and_a_different_one_is_logged()
    {
        var logs = new CapturingLoggerFactory();
        var first = CacheNode.AcquireProcessNode(new CacheNodeOptions { Capacity = 32 << 20 });
        var second = CacheNode.AcquireProcessNode(new CacheNodeOptions { Capacity = first.Store.Capacity + 1, LoggerFactory = logs });
        Assert.Same(first, second);
        Assert.Contains(logs.Lines, l => l.Id.Id == 1001 && l.Message.Contains("ignored", StringComparison.Ordinal));

        using var a = new CachedDataset<int>([1], new CacheOptions { DatasetName = "shared-a", CapacityPerNode = 10 << 20 });
        using var b = new CachedDataset<int>([2], new CacheOptions { DatasetName = "shared-b", CapacityPerNode = 20 << 20 });
        Assert.Equal(1, a[0]);
        Assert.Equal(2, b[0]);
        Assert.Same(first, CacheNode.AcquireProcessNode(new CacheNodeOptions { Capacity = 1 }));
    }
}
