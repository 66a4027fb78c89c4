using System.Diagnostics;
using Cache.Dataset;
using Cache.Engine;
using Cache.Transport;

namespace Perf;

/// <summary>
/// Epochs over a dataset with expensive samples: each epoch visits every sample once in a fresh
/// random order and the consumer touches every byte. Modes: uncached (the source every time); cached
/// (CachedDataset of byte[] samples, Retain, capacity above the dataset: each hit hands the caller its
/// own copy); cached-view (the same with ReadOnlyMemory&lt;byte&gt; samples: a hit is a read-only view
/// of the cached bytes, no copy); memory (precomputed samples in an array: the limit); loader
/// (CachedDataLoader over ReadOnlyMemory&lt;byte&gt; samples, batches of 64 read ahead, misses produced on
/// --workers threads; without --workers it runs twice, with 1 and with 2 workers, in the same run).
/// </summary>
internal static class EpochScenario
{
    public static ScenarioResult Run(Arguments args, bool quick)
    {
        var samples = args.Int("samples", quick ? 1000 : 2000);
        var payload = args.Int("bytes", 16 * 1024);
        var costMs = args.Double("cost-ms", 1.0);
        var epochs = args.Int("epochs", 3);
        var repeats = Math.Max(1, args.Int("repeats", 3));
        if (samples < 1 || epochs < 1)
        {
            throw new ArgumentException("--samples and --epochs must be at least 1.");
        }

        var workersOption = args.String("workers");
        var readAhead = args.Int("read-ahead", 4);
        if (readAhead < 1 || workersOption is not null && args.Int("workers", 1) < 1)
        {
            throw new ArgumentException("--workers and --read-ahead must be at least 1.");
        }

        var nodes = args.Int("nodes", 1);
        if (nodes != 1)
        {
            return MeshEpochScenario.Run(args, quick, nodes);
        }

        var backend = args.String("backend") ?? "peer";
        if (backend is not ("peer" or "redis"))
        {
            throw new ArgumentException($"--backend must be peer or redis, not '{backend}'.");
        }

        var source = new SyntheticDataset(samples, payload, costMs);
        var seconds = new Dictionary<(string Mode, int Epoch), List<double>>();
        var hitRates = new Dictionary<(string Mode, int Epoch), List<double>>();
        List<string> modes = ["uncached", "cached", "cached-view", "memory"];
        int[] loaderWorkers = workersOption is null ? [1, 2] : [args.Int("workers", 1)];
        modes.AddRange(loaderWorkers.Select(LoaderMode));
        using var redis = backend == "redis" ? RedisServerProcess.TryStart() : null;
        if (redis is not null)
        {
            // Beside the process's own (peer) cache, in the same run: the same dataset on a redis-server.
            modes.InsertRange(3, ["cached-redis", "cached-redis-batch"]);
        }

        var redisHost = redis is null ? null : $"127.0.0.1:{redis.Port}";
        for (var repeat = 0; repeat < repeats; repeat++)
        {
            // Modes interleave within each repeat so that drift of a shared machine hits all alike.
            foreach (var mode in modes)
            {
                Harness.Progress("epoch", $"repeat {repeat + 1}/{repeats}, {mode}, {samples} samples of {payload} B at {costMs} ms");
                var times = mode.StartsWith("loader", StringComparison.Ordinal)
                    ? RunLoader(source, samples, payload, epochs, seed: repeat, WorkersOf(mode), readAhead, out var rates)
                    : RunMode(mode, source, samples, payload, epochs, seed: repeat, redisHost, out rates);
                for (var e = 0; e < epochs; e++)
                {
                    Add(seconds, (mode, e + 1), times[e]);
                    Add(hitRates, (mode, e + 1), rates[e]);
                }
            }
        }

        var rows = Rows(modes, epochs, samples, seconds, hitRates, nodes: null, readAhead);

        var summary = new List<string> { $"{samples} samples of {payload} B, {costMs} ms each; median of {repeats} runs; consumer touches every byte." };
        if (epochs >= 2)
        {
            var later = Enumerable.Range(2, epochs - 1).ToArray();
            double Mean(string mode) => later.Average(e => Harness.Median(seconds[(mode, e)]));
            var uncached = Mean("uncached");
            var cached = Mean("cached");
            var view = Mean("cached-view");
            var memory = Mean("memory");
            summary.Add($"epochs 2-{epochs}: cached is {uncached / cached:F1}x faster than uncached and takes {cached / memory:F2}x the time of memory (byte[] samples, a copy per hit).");
            summary.Add($"epochs 2-{epochs}: cached-view is {uncached / view:F1}x faster than uncached and takes {view / memory:F2}x the time of memory (ReadOnlyMemory<byte> samples, no copy).");
            foreach (var w in loaderWorkers)
            {
                var loader = Mean(LoaderMode(w));
                summary.Add($"epochs 2-{epochs}: loader ({w} worker{(w == 1 ? "" : "s")}, read-ahead {readAhead}) is {uncached / loader:F1}x faster than uncached and takes {loader / memory:F2}x the time of memory.");
            }

            if (modes.Contains("cached-redis"))
            {
                var viaRedis = Mean("cached-redis");
                var viaRedisBatch = Mean("cached-redis-batch");
                summary.Add($"epochs 2-{epochs}: the redis backend (a local redis-server) takes {viaRedis / cached:F1}x the time of the peer backend one sample at a time and {viaRedisBatch / cached:F1}x in batches of 64; both are {uncached / viaRedis:F1}x and {uncached / viaRedisBatch:F1}x faster than uncached.");
            }
            else if (backend == "redis")
            {
                summary.Add("redis backend: redis-server is absent (apt-get install redis-server); its modes did not run.");
            }
        }

        double First(string mode) => Harness.Median(seconds[(mode, 1)]);
        foreach (var w in loaderWorkers)
        {
            summary.Add($"epoch 1: loader ({w} worker{(w == 1 ? "" : "s")}) takes {First(LoaderMode(w)) / First("uncached"):F2}x the time of uncached.");
        }

        if (loaderWorkers.Length == 2)
        {
            summary.Add($"epoch 1: the loader with 2 workers takes {First(LoaderMode(2)) / First(LoaderMode(1)):F2}x the time with 1 worker.");
        }

        return new ScenarioResult("epoch", rows, summary);
    }

    /// <summary>The internal name of the loader mode with <paramref name="workers"/> workers (rows say "loader" and the count).</summary>
    internal static string LoaderMode(int workers) => $"loader-w{workers}";

    internal static int WorkersOf(string mode) => mode.StartsWith("loader-w", StringComparison.Ordinal) ? int.Parse(mode.AsSpan(8), System.Globalization.CultureInfo.InvariantCulture) : 1;

    /// <summary>One row per mode and epoch: the median seconds, samples per second and hit rate (and the node count, for a mesh).</summary>
    /// <remarks>Modes other than the loader read on the consumer's thread, without read-ahead: workers 1, readAhead 0.</remarks>
    internal static List<Row> Rows(IEnumerable<string> modes, int epochs, int samples, Dictionary<(string Mode, int Epoch), List<double>> seconds, Dictionary<(string Mode, int Epoch), List<double>> hitRates, int? nodes, int readAhead)
    {
        var rows = new List<Row>();
        foreach (var mode in modes)
        {
            for (var e = 1; e <= epochs; e++)
            {
                var s = Harness.Median(seconds[(mode, e)]);
                var isLoader = mode.StartsWith("loader", StringComparison.Ordinal);
                var row = new Row().Add("mode", isLoader ? "loader" : mode);
                if (nodes is { } n)
                {
                    row.Add("nodes", n);
                }

                rows.Add(row
                    .Add("workers", WorkersOf(mode))
                    .Add("readAhead", isLoader ? readAhead : 0)
                    .Add("epoch", e)
                    .Add("seconds", s)
                    .Add("samplesPerSecond", samples / s)
                    .Add("hitRate", Harness.Median(hitRates[(mode, e)])));
            }
        }

        return rows;
    }

    internal static void Add(Dictionary<(string, int), List<double>> map, (string, int) key, double value)
    {
        if (!map.TryGetValue(key, out var list))
        {
            map[key] = list = [];
        }

        list.Add(value);
    }

    private static double[] RunMode(string mode, SyntheticDataset source, int samples, int payload, int epochs, int seed, string? redisHost, out double[] hitRates)
    {
        var times = new double[epochs];
        hitRates = new double[epochs];
        CacheNode? node = null;
        CachedDataset<byte[]>? cached = null;
        CachedDataset<ReadOnlyMemory<byte>>? view = null;
        byte[][]? memory = null;
        Func<CacheStatistics>? statistics = null;
        try
        {
            Func<int, ReadOnlySpan<byte>> read;
            var capacity = (long)(samples * (long)(payload + 64 + BlockStore.EntryOverhead) * 1.25);
            switch (mode)
            {
                case "cached":
                    node = new CacheNode(new CacheNodeOptions { Capacity = capacity, Policy = AdmissionPolicy.Retain });
                    cached = new CachedDataset<byte[]>(source, new CacheOptions { DatasetName = "epoch", Node = node });
                    statistics = () => cached.Statistics;
                    read = i => cached[i];
                    break;
                case "cached-redis":
                case "cached-redis-batch":
                    cached = new CachedDataset<byte[]>(source, new CacheOptions { DatasetName = $"epoch-{seed}", Hosts = [redisHost!] });
                    cached.Clear();
                    statistics = () => cached.Statistics;
                    read = i => cached[i];
                    break;
                case "cached-view":
                    node = new CacheNode(new CacheNodeOptions { Capacity = capacity, Policy = AdmissionPolicy.Retain });
                    view = new CachedDataset<ReadOnlyMemory<byte>>(new ViewDataset(source), new CacheOptions { DatasetName = "epoch", Node = node });
                    statistics = () => view.Statistics;
                    read = i => view[i].Span;
                    break;
                case "memory":
                    memory = new byte[samples][];
                    for (var i = 0; i < samples; i++)
                    {
                        memory[i] = SyntheticDataset.Payload(i, payload);
                    }

                    read = i => memory[i];
                    break;
                default:
                    read = i => source[i];
                    break;
            }

            var random = new Random(seed);
            var order = Enumerable.Range(0, samples).ToArray();
            long checksum = 0;
            for (var e = 0; e < epochs; e++)
            {
                random.Shuffle(order);
                var before = statistics?.Invoke();
                var start = Stopwatch.GetTimestamp();
                if (mode == "cached-redis-batch")
                {
                    // As a loader that asks for a batch of 64 indices at once: one MGET per server.
                    foreach (var chunk in order.Chunk(64))
                    {
                        foreach (var sample in cached!.GetMany(chunk))
                        {
                            checksum += Touch(sample);
                        }
                    }
                }
                else
                {
                    foreach (var i in order)
                    {
                        checksum += Touch(read(i));
                    }
                }

                times[e] = Stopwatch.GetElapsedTime(start).TotalSeconds;
                if (statistics is not null)
                {
                    var after = statistics();
                    var hits = after.Hits - before!.Value.Hits;
                    var misses = after.Misses - before.Value.Misses;
                    hitRates[e] = (double)hits / (hits + misses);
                }
                else
                {
                    hitRates[e] = mode == "memory" ? 1.0 : 0.0;
                }
            }

            GC.KeepAlive(checksum);
            return times;
        }
        finally
        {
            if (redisHost is not null && mode.StartsWith("cached-redis", StringComparison.Ordinal))
            {
                cached?.Clear();
            }

            cached?.Dispose();
            view?.Dispose();
            node?.Dispose();
        }
    }

    /// <summary>Epochs through a CachedDataLoader over views: batches of 64 in a seeded permutation, read ahead.</summary>
    private static double[] RunLoader(SyntheticDataset source, int samples, int payload, int epochs, int seed, int workers, int readAhead, out double[] hitRates)
    {
        var times = new double[epochs];
        hitRates = new double[epochs];
        var capacity = (long)(samples * (long)(payload + 64 + BlockStore.EntryOverhead) * 1.25);
        using var node = new CacheNode(new CacheNodeOptions { Capacity = capacity, Policy = AdmissionPolicy.Retain });
        using var view = new CachedDataset<ReadOnlyMemory<byte>>(new ViewDataset(source), new CacheOptions { DatasetName = "epoch", Node = node });
        var sampler = new DistributedSampler(samples, 1, 0, seed: seed);
        var loader = new CachedDataLoader<ReadOnlyMemory<byte>>(view, sampler, new DataLoaderOptions { BatchSize = 64, Workers = workers, ReadAhead = readAhead });
        long checksum = 0;
        for (var e = 0; e < epochs; e++)
        {
            var before = view.Statistics;
            var start = Stopwatch.GetTimestamp();
            foreach (var batch in loader)
            {
                foreach (var sample in batch)
                {
                    checksum += Touch(sample.Span);
                }
            }

            // As in the other modes, the epoch's writes are in the cache before the epoch counts as done.
            view.Flush();
            times[e] = Stopwatch.GetElapsedTime(start).TotalSeconds;
            var after = view.Statistics;
            var hits = after.Hits - before.Hits;
            var misses = after.Misses - before.Misses;
            hitRates[e] = (double)hits / Math.Max(1, hits + misses);
        }

        GC.KeepAlive(checksum);
        return times;
    }

    [ThreadStatic]
    private static byte[]? t_tensor;

    /// <summary>
    /// Copies the sample into a tensor's memory, as a collate step does (one buffer per thread, reused), and returns a
    /// figure that depends on the copy so that it cannot be left out. Before 2026-12-02 this summed every byte one at a
    /// time: about 5 us per 16 KB sample against the copy's 1-2, and 40% of all CPU in the 4-process cached epochs
    /// (perf record), which made every cached mode look slower by a consumer cost no trainer pays.
    /// </summary>
    internal static long Touch(ReadOnlySpan<byte> sample)
    {
        var tensor = t_tensor;
        if (tensor is null || tensor.Length < sample.Length)
        {
            t_tensor = tensor = new byte[Math.Max(sample.Length, 16 * 1024)];
        }

        sample.CopyTo(tensor);
        return sample.IsEmpty ? 0 : tensor[0] + tensor[sample.Length - 1];
    }

    internal sealed class ViewDataset(SyntheticDataset source) : IDataset<ReadOnlyMemory<byte>>
    {
        public int Count => source.Count;

        public ReadOnlyMemory<byte> this[int index] => source[index];
    }
}
