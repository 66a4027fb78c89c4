using Cache.Dataset;
using Cache.Tests.Support;
using Cache.Transport;

namespace Cache.Tests.Dataset;

public class CachedDataLoaderTests
{
    private static CacheNode Node() => new(new CacheNodeOptions { Capacity = 64 << 20 });

    private static CachedDataset<byte[]> Dataset(CacheNode node, IndexSource source, string name) =>
        new(source, new CacheOptions { DatasetName = name, Node = node, Compression = SampleCompression.None });

    private static List<long[]> Expected(DistributedSampler sampler, int epoch, int batchSize, bool dropLast)
    {
        var chunks = sampler.Indices(epoch).Chunk(batchSize).ToList();
        return dropLast && chunks.Count > 0 && chunks[^1].Length < batchSize ? chunks[..^1] : chunks;
    }

    private static void AssertBatches(List<long[]> expected, List<IReadOnlyList<byte[]>> batches)
    {
        Assert.Equal(expected.Count, batches.Count);
        for (var b = 0; b < expected.Count; b++)
        {
            Assert.Equal(expected[b].Length, batches[b].Count);
            for (var i = 0; i < expected[b].Length; i++)
            {
                Assert.Equal(IndexSource.Expected((int)expected[b][i]), batches[b][i]);
            }
        }
    }

    [Theory]
    [InlineData(10, false)]
    [InlineData(10, true)]
    [InlineData(1, false)]
    public async Task Batches_come_in_the_samplers_order_and_equal_what_the_source_produced(int batchSize, bool dropLast)
    {
        using var node = Node();
        var source = new IndexSource(95);
        await using var dataset = Dataset(node, source, "order");
        var sampler = new DistributedSampler(95, 1, 0, seed: 11);
        var loader = new CachedDataLoader<byte[]>(dataset, sampler, new DataLoaderOptions { BatchSize = batchSize, DropLast = dropLast, Workers = 2, ReadAhead = 3 });
        var expected = Expected(sampler, 0, batchSize, dropLast);

        var first = new List<IReadOnlyList<byte[]>>();
        await foreach (var batch in loader)
        {
            first.Add(batch);
        }

        AssertBatches(expected, first);
        Assert.Equal(1, sampler.Epoch);

        // The second epoch, through the synchronous enumerator: a fresh permutation, all from the cache.
        await dataset.FlushAsync();
        var produced = source.Produced;
        var second = loader.ToList();
        AssertBatches(Expected(sampler, 1, batchSize, dropLast), second);
        if (dropLast)
        {
            // Only the samples the first epoch dropped are new; none is produced twice.
            Assert.InRange(source.Produced, produced, 95);
        }
        else
        {
            Assert.Equal(produced, source.Produced);
        }
        Assert.Equal(0, loader.StagedSamples);
    }

    [Fact]
    public async Task Misses_are_produced_on_worker_threads_and_cached()
    {
        using var node = Node();
        var source = new IndexSource(64);
        await using var dataset = Dataset(node, source, "workers");
        var loader = new CachedDataLoader<byte[]>(dataset, new DistributedSampler(64, 1, 0), new DataLoaderOptions { BatchSize = 8, Workers = 2 });
        var consumer = Environment.CurrentManagedThreadId;
        foreach (var batch in loader)
        {
            Assert.Equal(consumer, Environment.CurrentManagedThreadId);
        }

        Assert.Equal(64, source.Produced);
        Assert.DoesNotContain(consumer, source.ProducerThreads.Keys);
        Assert.Equal(64, dataset.NumKeys());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task A_batchs_misses_are_written_together_not_per_writer_buffer(int workers)
    {
        using var backend = new RecordingBackend();
        var source = new IndexSource(200);
        await using var dataset = new CachedDataset<byte[]>(source, new CacheOptions { DatasetName = "perbatch", BackendOverride = backend, WriterBufferSize = 20, Compression = SampleCompression.None });
        var loader = new CachedDataLoader<byte[]>(dataset, new DistributedSampler(200, 1, 0), new DataLoaderOptions { BatchSize = 50, Workers = workers });
        Assert.Equal(4, loader.Count());
        await dataset.FlushAsync();
        Assert.Equal(200, backend.Store.CountKeys("perbatch:"u8));

        // A write starts only at a batch's end (or the epoch's, or the flush): at most 4 + 2 writes, where the writer
        // buffer of 20 would make 10. With one worker each write holds whole batches; with two, a write at one batch's
        // end takes along what the other worker has produced of the next.
        Assert.InRange(backend.WriteBatches.Count, 1, 6);
        if (workers == 1)
        {
            Assert.All(backend.WriteBatches, count => Assert.Equal(0, count % 50));
        }

        Assert.Equal(200, backend.WriteBatches.Sum());
        Assert.Equal(0, dataset.Statistics.Dropped);
    }

    [Fact]
    public void Held_samples_go_with_the_next_full_writer_buffer_or_flush()
    {
        using var backend = new RecordingBackend();
        using var dataset = new CachedDataset<byte[]>(new IndexSource(10), new CacheOptions { DatasetName = "held", BackendOverride = backend, WriterBufferSize = 4, Compression = SampleCompression.None });
        var cache = dataset.Cache;
        for (var i = 0; i < 3; i++)
        {
            cache.AddHeld(dataset.KeyOf(i), IndexSource.Expected(i));
        }

        // Held samples do not fill the buffer: four more counted ones do, and the write takes the held ones along.
        for (var i = 3; i < 7; i++)
        {
            cache.Add(dataset.KeyOf(i), IndexSource.Expected(i));
        }

        backend.WaitForWriteAnswered();
        Assert.Equal([7], backend.WriteBatches);

        cache.AddHeld(dataset.KeyOf(7), IndexSource.Expected(7));
        cache.RequestFlush();
        backend.WaitForWriteAnswered();
        Assert.Equal([7, 1], backend.WriteBatches);
        Assert.Equal(8, backend.Store.CountKeys("held:"u8));
    }

    [Fact]
    public async Task Each_upcoming_batch_is_one_batched_read()
    {
        using var backend = new RecordingBackend();
        var source = new IndexSource(100);
        await using var dataset = new CachedDataset<byte[]>(source, new CacheOptions { DatasetName = "onecall", BackendOverride = backend });
        var loader = new CachedDataLoader<byte[]>(dataset, new DistributedSampler(100, 1, 0), new DataLoaderOptions { BatchSize = 16, Workers = 1 });
        Assert.Equal(7, loader.Count());
        Assert.Equal(7, backend.GetManyCalls);
        Assert.Equal(0, backend.TryGetCalls);
    }

    [Fact]
    public async Task Staged_samples_never_exceed_read_ahead_times_batch_size()
    {
        using var node = Node();
        var source = new IndexSource(500);
        await using var dataset = Dataset(node, source, "bound");
        var loader = new CachedDataLoader<byte[]>(dataset, new DistributedSampler(500, 1, 0), new DataLoaderOptions { BatchSize = 7, ReadAhead = 3, Workers = 2 });
        for (var epoch = 0; epoch < 2; epoch++)
        {
            await foreach (var batch in loader)
            {
                Assert.InRange(loader.StagedSamples, 0, 21);
            }
        }

        Assert.InRange(loader.PeakStagedSamples, 7, 21);
        Assert.Equal(0, loader.StagedSamples);
    }

    [Fact]
    public async Task Over_all_ranks_each_index_comes_exactly_once_with_drop_last_and_the_padding_repeats_only_the_start()
    {
        await using var mesh = TestMesh.Start(2);
        const int Size = 101;
        var sources = new[] { new IndexSource(Size), new IndexSource(Size) };
        var datasets = new[] { Dataset(mesh.Nodes[0], sources[0], "ranks"), Dataset(mesh.Nodes[1], sources[1], "ranks") };
        try
        {
            foreach (var dropLast in new[] { true, false })
            {
                var shares = new List<long>[2];
                for (var rank = 0; rank < 2; rank++)
                {
                    var sampler = new DistributedSampler(Size, 2, rank, seed: 5, dropLast: dropLast);
                    var loader = new CachedDataLoader<byte[]>(datasets[rank], sampler, new DataLoaderOptions { BatchSize = 10, Workers = 1 });
                    shares[rank] = [];
                    await foreach (var batch in loader)
                    {
                        foreach (var sample in batch)
                        {
                            shares[rank].Add(IndexOf(sample, Size));
                        }
                    }

                    Assert.Equal(sampler.Indices(0), shares[rank]);
                }

                var all = shares[0].Concat(shares[1]).ToList();
                if (dropLast)
                {
                    Assert.Equal(100, all.Count);
                    Assert.Empty(shares[0].Intersect(shares[1]));
                    Assert.Equal(100, all.Distinct().Count());
                }
                else
                {
                    Assert.Equal(102, all.Count);
                    Assert.Equal(Size, all.Distinct().Count());
                    var permutation = new DistributedSampler(Size, 1, 0, seed: 5).Indices(0);
                    Assert.Equal(permutation[0], shares[1][^1]);
                }
            }
        }
        finally
        {
            foreach (var dataset in datasets)
            {
                await dataset.DisposeAsync();
            }
        }
    }

    private static long IndexOf(byte[] sample, int size)
    {
        for (var i = 0; i < size; i++)
        {
            if (IndexSource.Expected(i).AsSpan().SequenceEqual(sample))
            {
                return i;
            }
        }

        throw new InvalidOperationException("not a sample of the source");
    }

    [Fact]
    public async Task A_state_taken_mid_epoch_resumes_the_identical_remaining_sequence()
    {
        using var node = Node();
        var source = new IndexSource(200);
        await using var dataset = Dataset(node, source, "resume");
        var options = new DataLoaderOptions { BatchSize = 9, Workers = 2, ReadAhead = 2 };

        // The reference: epoch 2 uninterrupted.
        var reference = new DistributedSampler(200, 4, 1, seed: 77);
        reference.SetEpoch(2);
        var whole = new CachedDataLoader<byte[]>(dataset, reference, options).ToList();

        var sampler = new DistributedSampler(200, 4, 1, seed: 77);
        sampler.SetEpoch(2);
        var interrupted = new CachedDataLoader<byte[]>(dataset, sampler, options);
        var seen = 0;
        await foreach (var batch in interrupted)
        {
            if (++seen == 3)
            {
                break;
            }
        }

        var saved = interrupted.State.ToJson();
        Assert.Equal(new LoaderState(2, 3, 77, 4), LoaderState.FromJson(saved));

        // A new process: a new sampler (its epoch at 0), the state read back from text.
        var resumed = new CachedDataLoader<byte[]>(dataset, new DistributedSampler(200, 4, 1, seed: 77), options, LoaderState.FromJson(saved));
        var rest = resumed.ToList();
        Assert.Equal(whole.Count - 3, rest.Count);
        for (var b = 0; b < rest.Count; b++)
        {
            Assert.Equal(whole[b + 3], rest[b]);
        }

        Assert.Equal(new LoaderState(3, 0, 77, 4), resumed.State);
    }

    [Fact]
    public void A_state_from_another_world_size_or_seed_is_refused_clearly()
    {
        using var node = Node();
        using var dataset = Dataset(node, new IndexSource(10), "refuse");
        var sampler = new DistributedSampler(10, 2, 0, seed: 1);
        var ex = Assert.Throws<ArgumentException>(() => new CachedDataLoader<byte[]>(dataset, sampler, null, new LoaderState(0, 1, 1, 4)));
        Assert.Equal("resumeFrom", ex.ParamName);
        Assert.Contains("4 ranks", ex.Message, StringComparison.Ordinal);
        Assert.Contains("has 2", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new CachedDataLoader<byte[]>(dataset, sampler, null, new LoaderState(0, 1, 9, 2)));
        Assert.Throws<FormatException>(() => LoaderState.FromJson("{\"epoch\":-1}"));
        Assert.Throws<FormatException>(() => LoaderState.FromJson("not json"));
    }

    [Fact]
    public void Wrong_options_are_refused_naming_the_option()
    {
        using var node = Node();
        using var dataset = Dataset(node, new IndexSource(10), "options");
        var sampler = new DistributedSampler(10, 1, 0);
        Assert.Equal("BatchSize", Assert.Throws<ArgumentOutOfRangeException>(() => new CachedDataLoader<byte[]>(dataset, sampler, new DataLoaderOptions { BatchSize = 0 })).ParamName);
        Assert.Equal("ReadAhead", Assert.Throws<ArgumentOutOfRangeException>(() => new CachedDataLoader<byte[]>(dataset, sampler, new DataLoaderOptions { ReadAhead = 0 })).ParamName);
        Assert.Equal("Workers", Assert.Throws<ArgumentOutOfRangeException>(() => new CachedDataLoader<byte[]>(dataset, sampler, new DataLoaderOptions { Workers = 0 })).ParamName);
        Assert.Equal("sampler", Assert.Throws<ArgumentException>(() => new CachedDataLoader<byte[]>(dataset, new DistributedSampler(11, 1, 0))).ParamName);
        Assert.InRange(new CachedDataLoader<byte[]>(dataset, sampler).Workers, 1, Environment.ProcessorCount);
        Assert.Equal(4, new CachedDataLoader<byte[]>(dataset, sampler).ReadAhead);
    }

    [Fact]
    public async Task Cancellation_mid_epoch_stops_and_leaves_no_running_task()
    {
        using var node = Node();
        var source = new IndexSource(1000);
        await using var dataset = Dataset(node, source, "cancel");
        var loader = new CachedDataLoader<byte[]>(dataset, new DistributedSampler(1000, 1, 0), new DataLoaderOptions { BatchSize = 10, Workers = 2, ReadAhead = 4 });
        using var cts = new CancellationTokenSource();
        var yielded = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var batch in loader.WithCancellation(cts.Token))
            {
                if (++yielded == 2)
                {
                    await cts.CancelAsync();
                }
            }
        });

        Assert.Equal(2, yielded);
        Assert.Equal(0, loader.ActiveOperations);
        Assert.Equal(0, loader.StagedSamples);
        var produced = source.Produced;
        Assert.InRange(produced, 20, 20 + 40);

        // Nothing is left to produce more; the position is after the two batches yielded.
        Assert.Equal(produced, source.Produced);
        Assert.Equal(2, loader.State.NextBatch);
    }

    [Fact]
    public async Task A_peer_killed_during_read_ahead_gives_misses_and_the_epoch_completes_correctly()
    {
        await using var mesh = TestMesh.Start(2);
        const int Size = 120;
        var source = new IndexSource(Size);
        await using var dataset = Dataset(mesh.Nodes[0], source, "killed");
        var loader = new CachedDataLoader<byte[]>(dataset, new DistributedSampler(Size, 1, 0, seed: 3), new DataLoaderOptions { BatchSize = 10, Workers = 2, ReadAhead = 4 });
        Assert.Equal(12, loader.Count());
        await dataset.FlushAsync();

        var yielded = new List<IReadOnlyList<byte[]>>();
        await foreach (var batch in loader)
        {
            yielded.Add(batch);
            if (yielded.Count == 2)
            {
                // Batches 3-6 are being read ahead now, half of them from this peer.
                await mesh.KillAsync(1);
            }
        }

        AssertBatches(Expected(new DistributedSampler(Size, 1, 0, seed: 3), 1, 10, false), yielded);
        Assert.True(source.Produced > Size, "samples of the killed peer were produced again");
    }

    [Fact]
    public async Task A_source_exception_ends_the_enumeration_with_it()
    {
        using var node = Node();
        var source = new IndexSource(50) { OnProduce = i => { if (i == 17) { throw new InvalidDataException("bad sample 17"); } } };
        await using var dataset = Dataset(node, source, "throws");
        var loader = new CachedDataLoader<byte[]>(dataset, new DistributedSampler(50, 1, 0, shuffle: false), new DataLoaderOptions { BatchSize = 5, Workers = 2 });
        var ex = await Assert.ThrowsAsync<InvalidDataException>(async () =>
        {
            await foreach (var batch in loader)
            {
            }
        });
        Assert.Equal("bad sample 17", ex.Message);
        Assert.Equal(0, loader.ActiveOperations);
        Assert.Equal(3, loader.State.NextBatch);
    }

    [Fact]
    public void Prefetched_samples_are_handed_to_the_first_indexer_call_without_a_read()
    {
        using var backend = new RecordingBackend();
        var source = new IndexSource(50);
        using var dataset = new CachedDataset<byte[]>(source, new CacheOptions { DatasetName = "prefetch", BackendOverride = backend, WriterBufferSize = 1 });
        _ = dataset.GetMany(Enumerable.Range(0, 50).ToArray());
        dataset.Flush();
        var reads = backend.TryGetCalls;

        dataset.Prefetch([3, 9, 27, 70, -1]);
        dataset.PrefetchStage.WaitIdle();
        Assert.Equal(3, dataset.PrefetchStage.Count);
        Assert.Equal(IndexSource.Expected(9), dataset[9]);
        Assert.Equal(IndexSource.Expected(3), dataset[3]);
        Assert.Equal(reads, backend.TryGetCalls);
        Assert.Equal(1, dataset.PrefetchStage.Count);

        // Handed over once: the next ask reads the cache again.
        Assert.Equal(IndexSource.Expected(9), dataset[9]);
        Assert.Equal(reads + 1, backend.TryGetCalls);
        Assert.Equal(50, source.Produced);
    }

    [Fact]
    public void A_hinted_sample_is_counted_once_as_the_indexer_reads_it()
    {
        using var backend = new RecordingBackend();
        var source = new IndexSource(40);
        using var dataset = new CachedDataset<byte[]>(source, new CacheOptions { DatasetName = "counted", BackendOverride = backend, WriterBufferSize = 1 });
        var all = Enumerable.Range(0, 40).Select(i => (long)i).ToArray();

        // Epoch 1: every hinted sample misses in the background read and again in the indexer; one miss each.
        dataset.Prefetch(all);
        dataset.PrefetchStage.WaitIdle();
        for (var i = 0; i < 40; i++)
        {
            Assert.Equal(IndexSource.Expected(i), dataset[i]);
        }

        dataset.Flush();
        Assert.Equal((0L, 40L), (dataset.Statistics.Hits, dataset.Statistics.Misses));

        // Epoch 2: staged hits, one each; a staged sample never asked for is not counted at all.
        dataset.Prefetch(all);
        dataset.PrefetchStage.WaitIdle();
        Assert.Equal(40, dataset.PrefetchStage.Count);
        for (var i = 0; i < 30; i++)
        {
            Assert.Equal(IndexSource.Expected(i), dataset[i]);
        }

        Assert.Equal((30L, 40L), (dataset.Statistics.Hits, dataset.Statistics.Misses));
        Assert.Equal(40, source.Produced);
    }

    [Fact]
    public void The_prefetch_staging_area_is_bounded()
    {
        using var node = Node();
        var source = new IndexSource(400);
        using var dataset = new CachedDataset<byte[]>(source, new CacheOptions { DatasetName = "stage", Node = node, PrefetchCapacity = 50, WriterBufferSize = 1000 });
        _ = dataset.GetMany(Enumerable.Range(0, 400).ToArray());
        dataset.Flush();
        for (var start = 0; start < 400; start += 100)
        {
            dataset.Prefetch(Enumerable.Range(start, 100).Select(i => (long)i).ToArray());
            dataset.PrefetchStage.WaitIdle();
        }

        Assert.InRange(dataset.PrefetchStage.Peak, 1, 50);
        Assert.Equal(50, dataset.PrefetchStage.Count);
        Assert.Equal("PrefetchCapacity", Assert.Throws<ArgumentOutOfRangeException>(() => new CachedDataset<byte[]>(source, new CacheOptions { DatasetName = "x", Node = node, PrefetchCapacity = -1 })).ParamName);
    }
}
