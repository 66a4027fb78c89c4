using System.Collections.Concurrent;
using System.Diagnostics;
using Cache.Dataset;
using Cache.Transport;
using Microsoft.Extensions.Caching.Memory;

namespace Perf;

/// <summary>
/// The cost of a hit, single-threaded: CachedDataset (byte[] samples, which the caller owns and so
/// are copied; and ReadOnlyMemory samples, a view without a copy) against a raw ConcurrentDictionary
/// and a raw MemoryCache lookup that hand out a shared reference.
/// </summary>
internal static class LocalScenario
{
    public static ScenarioResult Run(Arguments args, bool quick)
    {
        var repeats = Math.Max(1, args.Int("repeats", quick ? 5 : 9));
        var millis = args.Int("ms", quick ? 100 : 300);
        var rows = new List<Row>();
        var summary = new List<string> { $"single thread, random order over the samples, median of {repeats} runs of {millis} ms each." };
        foreach (var valueBytes in new[] { 1024, 100 * 1024 })
        {
            var samples = Math.Max(64, (int)Math.Min(4096, (64L << 20) / valueBytes));
            var data = Enumerable.Range(0, samples).Select(i => SyntheticDataset.Payload(i, valueBytes)).ToArray();
            var order = Enumerable.Range(0, samples).ToArray();
            new Random(7).Shuffle(order);

            var dictionary = new ConcurrentDictionary<int, byte[]>();
            var memoryCache = new MemoryCache(new MemoryCacheOptions());
            var boxedKeys = new object[samples];
            for (var i = 0; i < samples; i++)
            {
                dictionary[i] = data[i];
                boxedKeys[i] = i;
                memoryCache.Set(boxedKeys[i], data[i]);
            }

            using var node = new CacheNode(new CacheNodeOptions { Capacity = (long)samples * (valueBytes + 1024) * 2 });
            using var bytesDataset = new CachedDataset<byte[]>(data, new CacheOptions { DatasetName = "local-bytes", Node = node, Compression = SampleCompression.None });
            using var memoryDataset = new CachedDataset<ReadOnlyMemory<byte>>(data.Select(d => (ReadOnlyMemory<byte>)d).ToArray(), new CacheOptions { DatasetName = "local-memory", Node = node, Compression = SampleCompression.None });
            for (var i = 0; i < samples; i++)
            {
                _ = bytesDataset[i];
                _ = memoryDataset[i];
            }

            bytesDataset.Flush();
            memoryDataset.Flush();

            var paths = new (string Name, Func<int, int> Read)[]
            {
                ("dictionary", i => dictionary[i].Length),
                ("memorycache", i => ((byte[])memoryCache.Get(boxedKeys[i])!).Length),
                ("dataset-memory", i => memoryDataset[i].Length),
                ("dataset-bytes", i => bytesDataset[i].Length),
            };
            var results = new Dictionary<string, double>();
            var times = paths.ToDictionary(p => p.Name, _ => new List<double>());
            for (var r = 0; r < repeats; r++)
            {
                foreach (var (name, read) in paths)
                {
                    times[name].Add(Measure(read, order, millis));
                }
            }

            foreach (var (name, _) in paths)
            {
                var ns = Harness.Median(times[name]);
                results[name] = ns;
                rows.Add(new Row().Add("path", name).Add("valueBytes", valueBytes).Add("nsPerOp", ns).Add("gbPerSecond", valueBytes / ns));
            }

            summary.Add($"{valueBytes} B: dataset-memory {results["dataset-memory"] / results["dictionary"]:F2}x and dataset-bytes {results["dataset-bytes"] / results["dictionary"]:F2}x the time of a ConcurrentDictionary hit; MemoryCache {results["memorycache"] / results["dictionary"]:F2}x.");
            memoryCache.Dispose();
            Harness.Progress("local", $"{valueBytes} B done");
        }

        return new ScenarioResult("local", rows, summary);
    }

    /// <summary>Nanoseconds per read, over about <paramref name="millis"/> of reads after a warm-up.</summary>
    private static double Measure(Func<int, int> read, int[] order, int millis)
    {
        long sink = 0;
        foreach (var i in order)
        {
            sink += read(i);
        }

        var budget = Stopwatch.Frequency * millis / 1000;
        long ops = 0;
        var start = Stopwatch.GetTimestamp();
        long elapsed;
        do
        {
            foreach (var i in order)
            {
                sink += read(i);
            }

            ops += order.Length;
            elapsed = Stopwatch.GetTimestamp() - start;
        }
        while (elapsed < budget);
        GC.KeepAlive(sink);
        return elapsed * 1e9 / Stopwatch.Frequency / ops;
    }
}
