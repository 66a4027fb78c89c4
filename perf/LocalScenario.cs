using System.Collections.Concurrent;
using System.Diagnostics;
using Cache.Dataset;
using System.Net;
using Cache.Transport;
using Cache.Transport.Server;
using Cache.Transport.Peer;
using Microsoft.Extensions.Caching.Memory;

namespace Perf;

/// <summary>
/// The cost of a hit, single-threaded: CachedDataset (byte[] samples, which the caller owns and so
/// are copied; and ReadOnlyMemory samples, a view without a copy) against a raw ConcurrentDictionary
/// and a raw MemoryCache lookup that hand out a shared reference; and the same CachedDataset hits on a
/// node that is rank 0 of a two-node mesh (the other member in this process, on loopback), reading the
/// samples rank 0 owns: the routing a mesh adds to a local hit. Every path reads the same samples
/// (those rank 0 owns), in the same random order.
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
            using var meshNode = new CacheNode(new CacheNodeOptions { Capacity = (long)samples * (valueBytes + 1024) * 2 });
            using var otherNode = new CacheNode(new CacheNodeOptions { Capacity = (long)samples * (valueBytes + 1024) * 2 });
            using var meshServer = new PeerServer(meshNode, new PeerServerOptions());
            using var otherServer = new PeerServer(otherNode, new PeerServerOptions());
            meshServer.Start();
            otherServer.Start();
            EndPoint[] members = [meshServer.EndPoint, otherServer.EndPoint];
            meshNode.JoinMesh(members, 0, new PeerClientOptions());
            otherNode.JoinMesh(members, 1, new PeerClientOptions());

            // The samples rank 0 owns (keys are "{dataset}:{index}"), in random order: each dataset's own.
            int[] Owned(string dataset, int rank = 0)
            {
                var owned = Enumerable.Range(0, samples)
                    .Where(i => meshNode.OwnerOf(System.Text.Encoding.UTF8.GetBytes($"{dataset}:{i}")) == rank)
                    .ToArray();
                new Random(7).Shuffle(owned);
                return owned;
            }

            var order = Owned("local-bytes");
            var memoryOrder = Owned("local-memory");
            var remoteOrder = Owned("local-bytes", rank: 1);

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
            using var meshBytes = new CachedDataset<byte[]>(data, new CacheOptions { DatasetName = "local-bytes", Node = meshNode, Compression = SampleCompression.None });
            using var meshMemory = new CachedDataset<ReadOnlyMemory<byte>>(data.Select(d => (ReadOnlyMemory<byte>)d).ToArray(), new CacheOptions { DatasetName = "local-memory", Node = meshNode, Compression = SampleCompression.None });
            Fill(bytesDataset, samples);
            Fill(memoryDataset, samples);
            Fill(meshBytes, samples);
            Fill(meshMemory, samples);

            var paths = new (string Name, Func<int, int> Read, int[] Order)[]
            {
                ("dictionary", i => dictionary[i].Length, order),
                ("memorycache", i => ((byte[])memoryCache.Get(boxedKeys[i])!).Length, order),
                ("dataset-memory", i => memoryDataset[i].Length, memoryOrder),
                ("dataset-bytes", i => bytesDataset[i].Length, order),
                ("mesh-owned-memory", i => meshMemory[i].Length, memoryOrder),
                ("mesh-owned-bytes", i => meshBytes[i].Length, order),
                ("mesh-remote-bytes", i => meshBytes[i].Length, remoteOrder),
            };
            var results = new Dictionary<string, double>();
            var times = paths.ToDictionary(p => p.Name, _ => new List<double>());
            for (var r = 0; r < repeats; r++)
            {
                foreach (var (name, read, pathOrder) in paths)
                {
                    times[name].Add(Measure(read, pathOrder, millis));
                }
            }

            foreach (var (name, _, _) in paths)
            {
                var ns = Harness.Median(times[name]);
                results[name] = ns;
                rows.Add(new Row().Add("path", name).Add("valueBytes", valueBytes).Add("nsPerOp", ns).Add("gbPerSecond", valueBytes / ns));
            }

            summary.Add($"{valueBytes} B: dataset-memory {results["dataset-memory"] / results["dictionary"]:F2}x and dataset-bytes {results["dataset-bytes"] / results["dictionary"]:F2}x the time of a ConcurrentDictionary hit; MemoryCache {results["memorycache"] / results["dictionary"]:F2}x.");
            summary.Add($"{valueBytes} B: a hit on a sample this rank owns in a 2-node mesh costs {results["mesh-owned-bytes"] / results["dataset-bytes"]:F2}x the single-process hit (byte[]), {results["mesh-owned-memory"] / results["dataset-memory"]:F2}x (ReadOnlyMemory); a hit on a sample the other member owns (one request per sample, loopback, the peer in this process) takes {results["mesh-remote-bytes"] / 1000:F1} us.");
            memoryCache.Dispose();
            Harness.Progress("local", $"{valueBytes} B done");
        }

        return new ScenarioResult("local", rows, summary);
    }

    /// <summary>Reads every sample once (misses that store them), then waits until the writes reached their owners.</summary>
    private static void Fill<T>(CachedDataset<T> dataset, int samples)
    {
        for (var i = 0; i < samples; i++)
        {
            _ = dataset[i];
        }

        dataset.Flush();
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
