using Cache.Dataset;

namespace Cache.Tests.Dataset;

public class WriteBehindTests
{
    private static CacheOptions Options(RecordingBackend backend, string name, int writerBufferSize) =>
        new() { DatasetName = name, BackendOverride = backend, WriterBufferSize = writerBufferSize, Compression = SampleCompression.None };

    [Fact]
    public void Add_never_calls_the_backend_on_the_callers_thread()
    {
        using var backend = new RecordingBackend();
        using var dataset = new CachedDataset<byte[]>(new IndexSource(100), Options(backend, "thread", 1));
        for (var i = 0; i < 100; i++)
        {
            _ = dataset[i];
        }

        dataset.Flush();
        Assert.NotEmpty(backend.WriterThreads);
        Assert.DoesNotContain(Environment.CurrentManagedThreadId, backend.WriterThreads);
        Assert.Equal(100, backend.Store.CountKeys("thread:"u8));

        // The flusher is asynchronous end to end: every write went through SetManyAsync, none through SetMany.
        Assert.True(backend.AsyncWrites > 0);
        Assert.Equal(0, backend.SyncWrites);
    }

    [Fact]
    public void A_writer_buffer_of_one_is_written_without_a_flush()
    {
        using var backend = new RecordingBackend();
        using var loader = new CacheLoader<int>(new CacheOptions { DatasetName = "eager", BackendOverride = backend });
        loader.Get("a", _ => 1);
        backend.WaitForWriteAnswered();
        Assert.True(backend.Store.ContainsKey("eager:a"u8));
    }

    [Fact]
    public void Fewer_samples_than_the_writer_buffer_wait_for_more_then_go_in_one_write()
    {
        using var backend = new RecordingBackend();
        using var dataset = new CachedDataset<byte[]>(new IndexSource(10), Options(backend, "batch", 4));
        for (var i = 0; i < 4; i++)
        {
            _ = dataset[i];
        }

        backend.WaitForWriteAnswered();
        Assert.Equal([4], backend.WriteBatches);
        Assert.Equal(4, backend.Store.CountKeys("batch:"u8));
    }

    [Fact]
    public void The_flusher_is_woken_once_per_full_writer_buffer_not_once_per_sample()
    {
        using var backend = new RecordingBackend();
        using var dataset = new CachedDataset<byte[]>(new IndexSource(100), Options(backend, "wakes", 20));
        for (var i = 0; i < 100; i++)
        {
            _ = dataset[i];
        }

        dataset.Flush();
        Assert.Equal(100, backend.Store.CountKeys("wakes:"u8));

        // Five full buffers and the flush's barrier: a wake-up per sample (a pool thread's, each) would be 100.
        Assert.InRange(dataset.Cache.WriteBehind.WakeUps, 1, 6);
        Assert.All(backend.WriteBatches, count => Assert.InRange(count, 1, 100));
        Assert.Equal(100, backend.WriteBatches.Sum());
    }

    [Fact]
    public void Samples_added_from_many_threads_are_all_written_with_few_wake_ups()
    {
        using var backend = new RecordingBackend();
        using var dataset = new CachedDataset<byte[]>(new IndexSource(1000), Options(backend, "many", 20));
        Parallel.For(0, 1000, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => _ = dataset[i]);
        dataset.Flush();
        Assert.Equal(1000, backend.Store.CountKeys("many:"u8));
        Assert.Equal(0, dataset.Statistics.Dropped);
        Assert.InRange(dataset.Cache.WriteBehind.WakeUps, 1, 51);
    }

    [Fact]
    public void Queued_samples_stay_readable_until_the_backend_has_answered()
    {
        using var backend = new RecordingBackend();
        var source = new IndexSource(4);
        using var dataset = new CachedDataset<byte[]>(source, Options(backend, "visible", 1));
        backend.HoldWrites();
        _ = dataset[2];
        backend.WaitForWriteEntered();

        // The write is in the backend's hands but unanswered: the sample still comes from the queue.
        Assert.Equal(IndexSource.Expected(2), dataset[2]);
        Assert.Equal(1, dataset.Statistics.BufferHits);
        Assert.Equal(1, source.Produced);

        backend.OpenWrites();
        dataset.Flush();
        Assert.Equal(IndexSource.Expected(2), dataset[2]);
        Assert.Equal(1, dataset.Statistics.BufferHits);
        Assert.Equal(2, dataset.Statistics.Hits);
        Assert.Equal(1, source.Produced);
    }

    [Fact]
    public void Past_the_bound_samples_are_dropped_and_counted()
    {
        using var backend = new RecordingBackend();
        using var dataset = new CachedDataset<byte[]>(new IndexSource(1200), Options(backend, "bound", 1));
        backend.HoldWrites();
        for (var i = 0; i < 1200; i++)
        {
            _ = dataset[i];
        }

        // The bound is max(4 x WriterBufferSize, 1024): 1024 samples wait (some inside the held write), 176 are dropped.
        Assert.Equal(1024, SampleCache<byte[]>.QueueBound(1));
        Assert.Equal(176, dataset.Statistics.Dropped);
        backend.OpenWrites();
        dataset.Flush();
        Assert.Equal(1024, backend.Store.CountKeys("bound:"u8));
        Assert.Equal(1024, dataset.Statistics.Written);
    }

    [Fact]
    public async Task FlushAsync_completes_only_once_the_queued_samples_are_answered()
    {
        using var backend = new RecordingBackend();
        await using var dataset = new CachedDataset<byte[]>(new IndexSource(5), Options(backend, "flushasync", 100));
        for (var i = 0; i < 5; i++)
        {
            _ = dataset[i];
        }

        backend.HoldWrites();
        var flushed = dataset.FlushAsync();
        backend.WaitForWriteEntered();
        Assert.False(flushed.IsCompleted);
        backend.OpenWrites();
        await flushed;
        Assert.Equal(5, backend.Store.CountKeys("flushasync:"u8));
    }

    [Fact]
    public async Task DisposeAsync_writes_what_is_queued()
    {
        using var backend = new RecordingBackend();
        var dataset = new CachedDataset<byte[]>(new IndexSource(7), Options(backend, "disposeasync", 1000));
        for (var i = 0; i < 7; i++)
        {
            _ = dataset[i];
        }

        Assert.Equal(0, backend.Store.CountKeys("disposeasync:"u8));
        await dataset.DisposeAsync();
        Assert.Equal(7, backend.Store.CountKeys("disposeasync:"u8));
        Assert.DoesNotContain(Environment.CurrentManagedThreadId, backend.WriterThreads);
    }
}
