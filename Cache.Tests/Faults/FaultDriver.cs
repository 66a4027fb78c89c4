using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Cache.Dataset;
using Cache.Transport;
using Cache.Transport.Peer;
using Cache.Transport.Server;

namespace Cache.Tests.Faults;

/// <summary>What a driver reports after a run of reads.</summary>
/// <param name="Reads">Samples read.</param>
/// <param name="Wrong">Samples whose bytes were not the sample's.</param>
/// <param name="Exceptions">Reads that threw.</param>
/// <param name="Hits">Reads served from the cache (the dataset's statistics).</param>
/// <param name="Misses">Reads recomputed.</param>
/// <param name="P50Ms">Median read latency.</param>
/// <param name="P99Ms">99th percentile read latency, over every read.</param>
/// <param name="HealthyP99Ms">99th percentile over reads of samples whose owner is not <c>faulty</c>.</param>
/// <param name="MaxMs">Slowest read.</param>
/// <param name="Seconds">Wall time of the run.</param>
/// <param name="OpenBreakers">Ranks whose breaker is open at the end.</param>
/// <param name="FailedRequests">Peer requests that failed during the run (timeouts included; heartbeats too), over every member.</param>
/// <param name="Dropped">Samples the write-behind failed to write during the run (the dataset's statistics).</param>
internal sealed record DriverReport(long Reads, long Wrong, long Exceptions, long Hits, long Misses, double P50Ms, double P99Ms, double HealthyP99Ms, double MaxMs, double Seconds, int[] OpenBreakers, long FailedRequests, long Dropped)
{
    public double HitRate => Hits + Misses == 0 ? 0 : (double)Hits / (Hits + Misses);

    public override string ToString() =>
        $"reads {Reads}, wrong {Wrong}, exceptions {Exceptions}, hit rate {HitRate:0.0000}, p50 {P50Ms:0.000} ms, p99 {P99Ms:0.000} ms, healthy p99 {HealthyP99Ms:0.000} ms, max {MaxMs:0.0} ms, {Seconds:0.00} s, open breakers [{string.Join(',', OpenBreakers)}], failed requests {FailedRequests}, writes dropped {Dropped}";
}

/// <summary>
/// The training rank of the fault tests, run as its own process inside a namespace of a <see cref="NetworkLab"/>
/// (`dotnet exec Cache.Tests.dll fault-driver ...`): rank 0 of the mesh, with a <see cref="CachedDataset{T}"/> of
/// deterministic samples, read one at a time, each checked byte for byte. It takes commands on standard input,
/// one per line, and answers each with one line on standard output (a JSON <see cref="DriverReport"/> or a number).
/// </summary>
internal static class FaultDriver
{
    private static readonly JsonSerializerOptions Json = new() { IncludeFields = false };

    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] != "fault-driver")
        {
            Console.Error.WriteLine("usage: dotnet exec Cache.Tests.dll fault-driver --members ip:port,... --bind IP --port P --secret S --samples N --size BYTES [--timeout-ms 50]");
            return 2;
        }

        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 1; i + 1 < args.Length; i += 2)
        {
            options[args[i]] = args[i + 1];
        }

        var members = options["--members"].Split(',').Select(m => (EndPoint)IPEndPoint.Parse(m)).ToArray();
        var samples = int.Parse(options["--samples"], CultureInfo.InvariantCulture);
        var size = int.Parse(options["--size"], CultureInfo.InvariantCulture);
        var timeoutMs = options.TryGetValue("--timeout-ms", out var t) ? int.Parse(t, CultureInfo.InvariantCulture) : 50;
        // CACHE_FAULT_LOGS (a folder) has the driver log at Debug to standard error, which the test then keeps.
        using var logs = Environment.GetEnvironmentVariable("CACHE_FAULT_LOGS") is { Length: > 0 } ? new Cache.Node.ConsoleLoggerFactory(Microsoft.Extensions.Logging.LogLevel.Debug) : null;
        using var node = new CacheNode(new CacheNodeOptions { Capacity = 1L << 30, LoggerFactory = logs });
        var server = new PeerServer(node, new PeerServerOptions { BindAddress = IPAddress.Parse(options["--bind"]), Port = int.Parse(options["--port"], CultureInfo.InvariantCulture), Secret = options["--secret"] });
        server.Start();
        var clientOptions = new PeerClientOptions { Secret = options["--secret"], RequestTimeout = TimeSpan.FromMilliseconds(timeoutMs), LoggerFactory = logs };
        node.JoinMesh(members, 0, clientOptions);
        using var dataset = new CachedDataset<ReadOnlyMemory<byte>>(new Samples(samples, size), new CacheOptions { DatasetName = "faults", Node = node, Compression = SampleCompression.None });
        Console.WriteLine("ready");

        Load? load = null;
        long markTicks = 0;
        while (Console.ReadLine() is { } line)
        {
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            switch (words[0])
            {
                case "epoch":
                    // One pass over every sample in a fresh order, as an epoch of a shuffled sampler.
                    var order = Permutation(samples, int.Parse(words[1], CultureInfo.InvariantCulture));
                    Console.WriteLine(JsonSerializer.Serialize(Read(node, dataset, size, order, -1, () => false), Json));
                    break;
                case "batches":
                    // Every sample in a fresh order, in batches of words[2] through GetMany.
                    Console.WriteLine(JsonSerializer.Serialize(ReadBatches(node, dataset, size, Permutation(samples, int.Parse(words[1], CultureInfo.InvariantCulture)), int.Parse(words[2], CultureInfo.InvariantCulture)), Json));
                    break;
                case "clear":
                    // Every member forgets the dataset (the next pass recomputes it and writes it again).
                    dataset.Clear();
                    Console.WriteLine("cleared");
                    break;
                case "total":
                    // The dataset's keys held over the whole mesh, once the write-behind has answered for what it holds.
                    dataset.Flush();
                    Console.WriteLine(node.CountKeys("faults:"u8).ToString(CultureInfo.InvariantCulture));
                    break;
                case "load-start":
                    load = new Load(node, dataset, size, samples, int.Parse(words[1], CultureInfo.InvariantCulture), int.Parse(words[2], CultureInfo.InvariantCulture));
                    Console.WriteLine("started");
                    break;
                case "load-stop":
                    Console.WriteLine(JsonSerializer.Serialize(load!.Stop(), Json));
                    load = null;
                    break;
                case "mark":
                    markTicks = Stopwatch.GetTimestamp();
                    Console.WriteLine("marked");
                    break;
                case "await-whole":
                    // Milliseconds from the mark until every breaker is closed and every member is in the map (reads keep flowing from the load), or -1.
                    var deadline = Stopwatch.GetTimestamp() + (long)(double.Parse(words[1], CultureInfo.InvariantCulture) / 1000 * Stopwatch.Frequency);
                    var whole = -1.0;
                    while (Stopwatch.GetTimestamp() < deadline)
                    {
                        if (OpenBreakers(node).Length == 0 && node.Mesh is { } current && !current.Left.Contains(true))
                        {
                            whole = Stopwatch.GetElapsedTime(markTicks).TotalMilliseconds;
                            break;
                        }

                        Thread.Sleep(2);
                    }

                    Console.WriteLine(whole.ToString("0.0", CultureInfo.InvariantCulture));
                    break;
                case "left":
                    // The ranks out of this node's slot map.
                    Console.WriteLine(string.Join(',', node.Mesh is { } m ? Enumerable.Range(0, m.Endpoints.Count).Where(m.HasLeft) : []));
                    break;
                case "foreign":
                    // Keys in this node's own store that the current map gives to another member.
                    Console.WriteLine(ForeignKeys(node).ToString(CultureInfo.InvariantCulture));
                    break;
                case "count":
                    // The dataset's keys held by member words[1], and how many of the samples the plain map gives it.
                    var rank = int.Parse(words[1], CultureInfo.InvariantCulture);
                    var held = node.Mesh!.Clients[rank]!.CountKeysAsync("faults:"u8.ToArray()).GetAwaiter().GetResult();
                    var plain = new Cache.Engine.SlotMap(node.Mesh.Endpoints.Count);
                    var owned = Enumerable.Range(0, samples).Count(i => plain.OwnerOfKey(Encoding.UTF8.GetBytes($"faults:{i}")) == rank);
                    Console.WriteLine($"{held?.ToString(CultureInfo.InvariantCulture) ?? "-1"} {owned}");
                    break;
                case "breakers":
                    Console.WriteLine(string.Join(',', OpenBreakers(node)));
                    break;
                case "quit":
                    server.DisposeAsync().AsTask().GetAwaiter().GetResult();
                    return 0;
                default:
                    Console.WriteLine($"unknown command {words[0]}");
                    break;
            }
        }

        return 0;
    }

    /// <summary>Sample <paramref name="index"/>: its index, then bytes that depend on it and on the position, so that any mix-up shows.</summary>
    public static byte[] Expected(int index, int size)
    {
        var bytes = new byte[size];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, index);
        for (var j = 4; j < size; j++)
        {
            bytes[j] = (byte)((index * 31) + (j * 7));
        }

        return bytes;
    }

    private static long ForeignKeys(CacheNode node)
    {
        var keys = new List<Cache.Engine.StoreKey>();
        var cursor = 0;
        do
        {
            cursor = node.Store.Scan(cursor, 1024, keys);
        }
        while (cursor != 0);
        return keys.Count(k => node.OwnerOf(k.Span) != node.MeshRank);
    }

    internal static int[] OpenBreakers(CacheNode node) =>
        node.Mesh is { } mesh ? [.. Enumerable.Range(0, mesh.Clients.Count).Where(r => mesh.Clients[r]?.Breaker.IsOpen == true)] : [];

    private static int[] Permutation(int count, int seed)
    {
        var order = Enumerable.Range(0, count).ToArray();
        new Random(seed).Shuffle(order);
        return order;
    }

    private static DriverReport Read(CacheNode node, CachedDataset<ReadOnlyMemory<byte>> dataset, int size, IEnumerable<int> order, int faulty, Func<bool> stop)
    {
        var before = dataset.Statistics;
        var failedBefore = FailedRequests(node);
        var latencies = new List<double>();
        var healthy = new List<double>();
        long wrong = 0, exceptions = 0;
        var started = Stopwatch.GetTimestamp();
        foreach (var i in order)
        {
            if (stop())
            {
                break;
            }

            var t0 = Stopwatch.GetTimestamp();
            try
            {
                var sample = dataset[i];
                var ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                latencies.Add(ms);
                if (faulty < 0 || node.OwnerOf(Encoding.UTF8.GetBytes($"faults:{i}")) != faulty)
                {
                    healthy.Add(ms);
                }

                if (!sample.Span.SequenceEqual(Expected(i, size)))
                {
                    wrong++;
                }
            }
#pragma warning disable CA1031 // The driver counts what escapes a read; the acceptance is that nothing does.
            catch (Exception)
#pragma warning restore CA1031
            {
                exceptions++;
            }
        }

        return Report(node, dataset, before, failedBefore, latencies, healthy, wrong, exceptions, started);
    }

    private static DriverReport ReadBatches(CacheNode node, CachedDataset<ReadOnlyMemory<byte>> dataset, int size, int[] order, int batch)
    {
        var before = dataset.Statistics;
        var failedBefore = FailedRequests(node);
        var latencies = new List<double>();
        long wrong = 0, exceptions = 0;
        var started = Stopwatch.GetTimestamp();
        foreach (var chunk in order.Chunk(batch))
        {
            var t0 = Stopwatch.GetTimestamp();
            try
            {
                var got = dataset.GetMany(chunk);
                latencies.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                for (var k = 0; k < chunk.Length; k++)
                {
                    if (!got[k].Span.SequenceEqual(Expected(chunk[k], size)))
                    {
                        wrong++;
                    }
                }
            }
#pragma warning disable CA1031 // As in Read.
            catch (Exception)
#pragma warning restore CA1031
            {
                exceptions++;
            }
        }

        // The writes this pass caused (its misses) count too: wait until the backend has answered for them.
        dataset.Flush();
        return Report(node, dataset, before, failedBefore, latencies, latencies, wrong, exceptions, started);
    }

    private static long FailedRequests(CacheNode node) => node.Mesh?.Clients.Sum(c => c?.FailedRequests ?? 0) ?? 0;

    private static DriverReport Report(CacheNode node, CachedDataset<ReadOnlyMemory<byte>> dataset, CacheStatistics before, long failedBefore, List<double> latencies, List<double> healthy, long wrong, long exceptions, long started)
    {
        var after = dataset.Statistics;
        return new DriverReport(
            latencies.Count + exceptions,
            wrong,
            exceptions,
            after.Hits + after.BufferHits - before.Hits - before.BufferHits,
            after.Misses - before.Misses,
            Percentile(latencies, 0.50),
            Percentile(latencies, 0.99),
            Percentile(healthy, 0.99),
            latencies.Count == 0 ? 0 : latencies.Max(),
            Stopwatch.GetElapsedTime(started).TotalSeconds,
            OpenBreakers(node),
            FailedRequests(node) - failedBefore,
            after.Dropped - before.Dropped);
    }

    private static double Percentile(List<double> values, double q)
    {
        if (values.Count == 0)
        {
            return 0;
        }

        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
    }

    /// <summary>Reads random samples on a thread of its own until stopped: the training loop running through a fault.</summary>
    private sealed class Load
    {
        private readonly Thread _thread;
        private volatile bool _stop;
        private DriverReport? _report;

        public Load(CacheNode node, CachedDataset<ReadOnlyMemory<byte>> dataset, int size, int samples, int seed, int faulty)
        {
            var random = new Random(seed);
            _thread = new Thread(() => _report = Read(node, dataset, size, Endless(random, samples), faulty, () => _stop)) { IsBackground = true };
            _thread.Start();
        }

        public DriverReport Stop()
        {
            _stop = true;
            _thread.Join();
            return _report!;
        }

        private static IEnumerable<int> Endless(Random random, int samples)
        {
            while (true)
            {
                yield return random.Next(samples);
            }
        }
    }

    private sealed class Samples(int count, int size) : IDataset<ReadOnlyMemory<byte>>
    {
        public int Count => count;

        public ReadOnlyMemory<byte> this[int index] => Expected(index, size);
    }
}
