using Cache.Dataset;
using Cache.Engine;
using Cache.Transport;

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

    [Fact]
    public void After_a_write_answered_on_another_thread_the_next_write_leaves_from_the_pool()
    {
        // The flusher awaits SetManyInlineAsync, whose answer may complete on a peer connection's reader thread; the next
        // write must not be sent from there (it would hold that connection's replies back).
        using var backend = new ThreadAnsweringBackend();
        using var dataset = new CachedDataset<byte[]>(new IndexSource(40), new CacheOptions { DatasetName = "hop", BackendOverride = backend, WriterBufferSize = 4, Compression = SampleCompression.None });
        for (var i = 0; i < 4; i++)
        {
            _ = dataset[i];
        }

        // The first write is in the backend, unanswered; what comes meanwhile waits for the next write.
        backend.WaitForCall();
        for (var i = 4; i < 40; i++)
        {
            _ = dataset[i];
        }

        backend.Answer();
        dataset.Flush();
        Assert.Equal(40, backend.Store.CountKeys("hop:"u8));
        Assert.True(backend.Calls.Count >= 2, $"{backend.Calls.Count} writes");
        Assert.All(backend.Calls, call => Assert.True(call.OnPool && call.ThreadId != backend.AnsweringThreadId, $"a write was sent from thread {call.ThreadId} (pool: {call.OnPool})"));
    }

    /// <summary>
    /// Answers every write from a thread of its own, completing the task there (as a peer connection's reader does for an
    /// inline write), and records the thread each write was sent from. The first answer waits for <see cref="Answer"/>.
    /// </summary>
    private sealed class ThreadAnsweringBackend : ICacheBackend, IDisposable
    {
        private readonly System.Collections.Concurrent.BlockingCollection<Action> _work = [];
        private readonly ManualResetEventSlim _answer = new();
        private readonly SemaphoreSlim _called = new(0);
        private readonly Thread _thread;

        public ThreadAnsweringBackend()
        {
            _thread = new Thread(() =>
            {
                foreach (var work in _work.GetConsumingEnumerable())
                {
                    _answer.Wait();
                    work();
                }
            }) { IsBackground = true, Name = "answering" };
            _thread.Start();
        }

        public BlockStore Store { get; } = new(new BlockStoreOptions { Capacity = 16 << 20 });

        public System.Collections.Concurrent.ConcurrentQueue<(int ThreadId, bool OnPool)> Calls { get; } = new();

        public int AnsweringThreadId => _thread.ManagedThreadId;

        public string Description => "thread-answering backend";

        public void WaitForCall() => Assert.True(_called.Wait(TimeSpan.FromSeconds(30)), "no write reached the backend");

        public void Answer() => _answer.Set();

        public ValueTask SetManyInlineAsync(ReadOnlyMemory<KeyValuePair<StoreKey, byte[]>> entries, Memory<SetResult> results, CancellationToken cancellationToken = default)
        {
            Calls.Enqueue((Environment.CurrentManagedThreadId, Thread.CurrentThread.IsThreadPoolThread));
            _called.Release();
            var answered = new TaskCompletionSource();
            _work.Add(() =>
            {
                for (var i = 0; i < entries.Length; i++)
                {
                    results.Span[i] = Store.SetOwned(entries.Span[i].Key, entries.Span[i].Value);
                }

                answered.SetResult();
            }, CancellationToken.None);
            return new ValueTask(answered.Task);
        }

        public ValueTask SetManyAsync(ReadOnlyMemory<KeyValuePair<StoreKey, byte[]>> entries, Memory<SetResult> results, CancellationToken cancellationToken = default) =>
            SetManyInlineAsync(entries, results, cancellationToken);

        public bool TryGet(ReadOnlySpan<byte> key, out ReadOnlyMemory<byte> value) => Store.TryGet(key, out value);

        public void GetMany(ReadOnlySpan<StoreKey> keys, Span<ReadOnlyMemory<byte>> values, Span<bool> found)
        {
            for (var i = 0; i < keys.Length; i++)
            {
                found[i] = Store.TryGet(keys[i].Span, out values[i]);
            }
        }

        public ValueTask GetManyAsync(ReadOnlyMemory<StoreKey> keys, Memory<ReadOnlyMemory<byte>> values, Memory<bool> found, CancellationToken cancellationToken = default)
        {
            GetMany(keys.Span, values.Span, found.Span);
            return ValueTask.CompletedTask;
        }

        public void SetMany(ReadOnlySpan<KeyValuePair<StoreKey, byte[]>> entries, Span<SetResult> results) =>
            throw new InvalidOperationException("the write-behind writes asynchronously");

        public long CountKeys(ReadOnlySpan<byte> prefix) => Store.CountKeys(prefix);

        public long RemoveKeys(ReadOnlySpan<byte> prefix) => Store.RemoveKeys(prefix);

        public void Dispose()
        {
            _answer.Set();
            _work.CompleteAdding();
            _thread.Join();
            Store.Dispose();
        }
    }
}
