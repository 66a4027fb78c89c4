using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Cache.Dataset;

namespace Perf;

/// <summary>
/// <c>epoch --nodes N</c>: N training processes on this machine, launched as torchrun would (WORLD_SIZE,
/// RANK, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, plus CACHE_PORT and CACHE_SECRET), forming the mesh by
/// rendezvous. Every epoch is a fresh permutation shared by all ranks; each rank reads its share
/// (positions rank, rank + N, ... as a distributed sampler hands them out), and the epoch ends when the
/// slowest rank is done (a training step waits for all of them). Modes: uncached (the source every time),
/// cached (CachedDataset, one sample at a time), cached-batch (GetMany of 64, as CacheLoader reads) and loader
/// (CachedDataLoader over ReadOnlyMemory&lt;byte&gt; samples: batches of 64 from the rank's DistributedSampler share,
/// read ahead from their owners, misses produced on --workers threads, default ProcessorCount / LOCAL_WORLD_SIZE).
/// The harness drives the workers over their standard input and output, one epoch at a time.
/// </summary>
internal static class MeshEpochScenario
{
    private const string WorkerCommand = "epoch-worker";

    public static ScenarioResult Run(Arguments args, bool quick, int nodes)
    {
        var samples = args.Int("samples", quick ? 1000 : 2000);
        var payload = args.Int("bytes", 16 * 1024);
        var costMs = args.Double("cost-ms", 1.0);
        var epochs = args.Int("epochs", 3);
        var repeats = Math.Max(1, args.Int("repeats", quick ? 1 : 3));
        if (samples < nodes || epochs < 1 || nodes is < 2 or > 64)
        {
            throw new ArgumentException("--nodes must be 2-64, --samples at least --nodes, --epochs at least 1.");
        }

        string[] modes = ["uncached", "cached", "cached-batch", "loader"];
        var readAhead = args.Int("read-ahead", 4);
        var workersOption = args.String("workers");
        var loaderWorkers = workersOption is null ? Math.Max(1, Environment.ProcessorCount / nodes) : args.Int("workers", 1);
        if (readAhead < 1 || loaderWorkers < 1)
        {
            throw new ArgumentException("--workers and --read-ahead must be at least 1.");
        }

        // Room for every cached dataset of the run (each mode and repeat has its own), with slack for imbalance between owners.
        var capacityPerHost = (long)samples * (payload + 64 + Cache.Engine.BlockStore.EntryOverhead) * repeats * 3 * 2;
        var warmUp = args.Int("warm-up", 1);
        var workers = StartWorkers(nodes, samples, payload, costMs, capacityPerHost, workersOption is null ? null : loaderWorkers, readAhead, warmUp);
        var seconds = new Dictionary<(string Mode, int Epoch), List<double>>();
        var hitRates = new Dictionary<(string Mode, int Epoch), List<double>>();
        try
        {
            for (var repeat = 0; repeat < repeats; repeat++)
            {
                foreach (var mode in modes)
                {
                    Harness.Progress("epoch", $"{nodes} processes, repeat {repeat + 1}/{repeats}, {mode}, {samples} samples of {payload} B at {costMs} ms");
                    for (var epoch = 1; epoch <= epochs; epoch++)
                    {
                        var command = string.Create(CultureInfo.InvariantCulture, $"run {mode} {mode}-{repeat} {(repeat * 1000) + epoch}");
                        foreach (var worker in workers)
                        {
                            worker.StandardInput.WriteLine(command);
                        }

                        double slowest = 0;
                        long hits = 0, misses = 0;
                        foreach (var worker in workers)
                        {
                            var (s, h, m) = ReadDone(worker);
                            slowest = Math.Max(slowest, s);
                            hits += h;
                            misses += m;
                        }

                        EpochScenario.Add(seconds, (mode, epoch), slowest);
                        EpochScenario.Add(hitRates, (mode, epoch), mode == "uncached" ? 0 : (double)hits / Math.Max(1, hits + misses));
                    }
                }
            }
        }
        finally
        {
            StopWorkers(workers);
        }

        var rows = EpochScenario.Rows(modes.Select(m => m == "loader" ? EpochScenario.LoaderMode(loaderWorkers) : m), epochs, samples, Rename(seconds, loaderWorkers), Rename(hitRates, loaderWorkers), nodes, readAhead);

        var summary = new List<string>
        {
            $"{nodes} processes on {Environment.ProcessorCount} cores, {samples} samples of {payload} B, {costMs} ms each, each rank reads 1/{nodes} of every epoch; an epoch ends with its slowest rank; median of {repeats} runs; {(warmUp != 0 ? "every mode's code ran untimed first (--warm-up 0 to time a cold process)" : "no warm-up: the first epochs include the JIT")}.",
        };
        if (epochs >= 2)
        {
            var later = Enumerable.Range(2, epochs - 1).ToArray();
            double Mean(string mode) => later.Average(e => Harness.Median(seconds[(mode, e)]));
            var uncached = Mean("uncached");
            summary.Add($"epochs 2-{epochs}: cached is {uncached / Mean("cached"):F1}x faster than uncached (one sample at a time, {(nodes - 1) * 100 / nodes}% of them owned by another process); cached-batch (GetMany of 64) is {uncached / Mean("cached-batch"):F1}x faster.");
            summary.Add($"epochs 2-{epochs}: loader ({loaderWorkers} worker{(loaderWorkers == 1 ? "" : "s")} per process, read-ahead {readAhead}) is {uncached / Mean("loader"):F1}x faster than uncached.");
        }

        summary.Add($"epoch 1: loader takes {Harness.Median(seconds[("loader", 1)]) / Harness.Median(seconds[("uncached", 1)]):F2}x the time of uncached; cached-batch {Harness.Median(seconds[("cached-batch", 1)]) / Harness.Median(seconds[("uncached", 1)]):F2}x.");

        return new ScenarioResult("epoch", rows, summary);
    }

    private static Dictionary<(string Mode, int Epoch), List<double>> Rename(Dictionary<(string Mode, int Epoch), List<double>> map, int workers) =>
        map.ToDictionary(kv => kv.Key.Mode == "loader" ? (EpochScenario.LoaderMode(workers), kv.Key.Epoch) : kv.Key, kv => kv.Value);

    /// <summary>The worker side: one training process. Returns the exit code.</summary>
    public static int Worker(Arguments args)
    {
        var samples = args.Int("samples", 2000);
        var payload = args.Int("bytes", 16 * 1024);
        var costMs = args.Double("cost-ms", 1.0);
        var capacity = args.Long("capacity", 1L << 30);
        var workersOption = args.String("workers");
        var readAhead = args.Int("read-ahead", 4);
        var warmUp = args.Int("warm-up", 1) != 0;
        args.ThrowIfUnused();
        var launch = Cache.Transport.Mesh.MeshEnvironment.Read();
        var source = new SyntheticDataset(samples, payload, costMs);
        var datasets = new Dictionary<string, CachedDataset<byte[]>>(StringComparer.Ordinal);
        CachedDataset<byte[]> Dataset(string name, SyntheticDataset from)
        {
            if (!datasets.TryGetValue(name, out var dataset))
            {
                datasets[name] = dataset = new CachedDataset<byte[]>(from, new CacheOptions { DatasetName = name, CapacityPerNode = capacity, ClusterMode = true });
            }

            return dataset;
        }

        var views = new Dictionary<string, (CachedDataset<ReadOnlyMemory<byte>> Dataset, CachedDataLoader<ReadOnlyMemory<byte>> Loader)>(StringComparer.Ordinal);
        (CachedDataset<ReadOnlyMemory<byte>> Dataset, CachedDataLoader<ReadOnlyMemory<byte>> Loader) Loader(string name, int seed, SyntheticDataset from)
        {
            if (!views.TryGetValue(name, out var entry))
            {
                var view = new CachedDataset<ReadOnlyMemory<byte>>(new EpochScenario.ViewDataset(from), new CacheOptions { DatasetName = name, CapacityPerNode = capacity, ClusterMode = true });
                var sampler = new DistributedSampler(from.Count, seed: seed);
                var options = new DataLoaderOptions { BatchSize = 64, ReadAhead = readAhead, Workers = workersOption is null ? null : int.Parse(workersOption, CultureInfo.InvariantCulture) };
                views[name] = entry = (view, new CachedDataLoader<ReadOnlyMemory<byte>>(view, sampler, options));
            }

            return entry;
        }

        // One epoch of a mode over a dataset named name; the seconds it took and its hits and misses.
        (double Seconds, long Hits, long Misses) RunEpoch(string mode, string name, int epochSeed, SyntheticDataset from)
        {
            if (mode == "loader")
            {
                // The rank's share from its DistributedSampler (seed: the repeat, epoch: the epoch of the repeat).
                var (view, loader) = Loader(name, epochSeed / 1000, from);
                var viewBefore = view.Statistics;
                long sum = 0;
                var began = Stopwatch.GetTimestamp();
                foreach (var batch in loader)
                {
                    foreach (var sample in batch)
                    {
                        sum += EpochScenario.Touch(sample.Span);
                    }
                }

                view.Flush();
                var took = Stopwatch.GetElapsedTime(began).TotalSeconds;
                var viewAfter = view.Statistics;
                GC.KeepAlive(sum);
                return (took, viewAfter.Hits - viewBefore.Hits, viewAfter.Misses - viewBefore.Misses);
            }

            var order = Enumerable.Range(0, from.Count).ToArray();
            new Random(epochSeed).Shuffle(order);
            var share = order.Where((_, position) => position % launch.WorldSize == launch.Rank).ToArray();
            var dataset = mode == "uncached" ? null : Dataset(name, from);
            var before = dataset?.Statistics;
            long checksum = 0;
            var start = Stopwatch.GetTimestamp();
            if (dataset is null)
            {
                foreach (var i in share)
                {
                    checksum += EpochScenario.Touch(from[i]);
                }
            }
            else if (mode == "cached-batch")
            {
                foreach (var batch in share.Chunk(64))
                {
                    foreach (var sample in dataset.GetMany(batch))
                    {
                        checksum += EpochScenario.Touch(sample);
                    }
                }
            }
            else
            {
                foreach (var i in share)
                {
                    checksum += EpochScenario.Touch(dataset[i]);
                }
            }

            // The epoch's writes reach their owners before the epoch counts as done.
            dataset?.Flush();
            var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
            var after = dataset?.Statistics;
            GC.KeepAlive(checksum);
            return (elapsed, (after?.Hits ?? 0) - (before?.Hits ?? 0), (after?.Misses ?? 0) - (before?.Misses ?? 0));
        }

        try
        {
            // The first dataset starts the process's node, which joins the mesh through the rendezvous.
            _ = Dataset("warm-up", source);
            if (warmUp)
            {
                WarmUp(RunEpoch, payload, launch.WorldSize);
                foreach (var name in datasets.Keys.Where(n => n.StartsWith("warm-", StringComparison.Ordinal)).ToList())
                {
                    // Room in the store for the timed datasets, as without the warm-up.
                    datasets[name].Clear();
                }

                foreach (var name in views.Keys.Where(n => n.StartsWith("warm-", StringComparison.Ordinal)).ToList())
                {
                    views[name].Dataset.Clear();
                }
            }

            var trace = ThreadCpuTrace.Enabled ? new ThreadCpuTrace() : null;
            Console.WriteLine("ready");
            while (Console.ReadLine() is { } line)
            {
                var parts = line.Split(' ');
                if (parts[0] == "quit")
                {
                    break;
                }

                trace?.Report("idle");
                var (seconds, hits, misses) = RunEpoch(parts[1], parts[2], int.Parse(parts[3], CultureInfo.InvariantCulture), source);
                trace?.Report(string.Create(CultureInfo.InvariantCulture, $"{line} took {seconds:F3} s"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"done {seconds:R} {hits} {misses}"));
            }

            return 0;
        }
        finally
        {
            foreach (var dataset in datasets.Values)
            {
                dataset.Dispose();
            }

            foreach (var (view, _) in views.Values)
            {
                view.Dispose();
            }
        }
    }

    /// <summary>
    /// Runs every mode's code before anything is timed: three epochs of each, twice, over a small dataset of samples that
    /// cost almost nothing (so misses, writes and hits all run), each round followed by a pause for the JIT's background compiler to finish
    /// the hot methods at tier 1. Without it, the first timed epoch of each mode pays for compiling that mode's code
    /// (traced with CACHE_PERF_THREADS=1: the tiered compiler's thread took 130-180 ms of CPU per process in the
    /// loader's first epoch, against 30-50 ms in later ones), a start-up cost of the process, not of the epoch;
    /// on 4 processes sharing 2 cores it made the quick suite's first epoch 1.4x the uncached one.
    /// <c>--warm-up 0</c> turns it off.
    /// </summary>
    private static void WarmUp(Func<string, string, int, SyntheticDataset, (double, long, long)> runEpoch, int payload, int worldSize)
    {
        // Samples that cost a little, so that the source's busy loop runs (and is compiled) too.
        var cheap = new SyntheticDataset(512 * worldSize, payload, costMs: 0.02);

        // Two rounds: the JIT counts a method's calls only after a delay, so the methods that became hot in the first
        // round are counted, and promoted, in the second.
        for (var round = 0; round < 2; round++)
        {
            foreach (var mode in new[] { "uncached", "cached", "cached-batch", "loader" })
            {
                for (var epoch = 1; epoch <= 3; epoch++)
                {
                    runEpoch(mode, $"warm-{mode}", 900_000 + (round * 10) + epoch, cheap);
                }
            }

            WaitForQuietJit();
        }
    }

    /// <summary>
    /// Waits (at most 20 s) until no method has been compiled for half a second: the JIT promotes hot methods to
    /// tier 1 on a background thread, which on a loaded machine takes seconds to work through what a warm-up made hot.
    /// A harness, not a test: waiting here only keeps that work out of the timed epochs.
    /// </summary>
    private static void WaitForQuietJit()
    {
        var deadline = Stopwatch.GetTimestamp() + (20 * Stopwatch.Frequency);
        var quiet = 0;
        var compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
        while (quiet < 2 && Stopwatch.GetTimestamp() < deadline)
        {
            Thread.Sleep(250);
            var now = System.Runtime.JitInfo.GetCompiledMethodCount();
            quiet = now == compiled ? quiet + 1 : 0;
            compiled = now;
        }
    }

    private static Process[] StartWorkers(int nodes, int samples, int payload, double costMs, long capacityPerHost, int? loaderWorkers, int readAhead, int warmUp)
    {
        var basePort = FreePortRange(nodes);
        var secret = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        var (program, prefix) = SelfCommand();
        var workers = new List<Process>();
        try
        {
            for (var rank = 0; rank < nodes; rank++)
            {
                var info = new ProcessStartInfo(program) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = false, UseShellExecute = false };
                foreach (var arg in prefix.Concat([WorkerCommand, "--samples", $"{samples}", "--bytes", $"{payload}", "--cost-ms", costMs.ToString(CultureInfo.InvariantCulture), "--capacity", $"{capacityPerHost}", "--read-ahead", $"{readAhead}", "--warm-up", $"{warmUp}", .. (loaderWorkers is { } w ? new[] { "--workers", $"{w}" } : [])]))
                {
                    info.ArgumentList.Add(arg);
                }

                info.Environment["WORLD_SIZE"] = $"{nodes}";
                info.Environment["RANK"] = $"{rank}";
                info.Environment["LOCAL_RANK"] = $"{rank}";
                info.Environment["LOCAL_WORLD_SIZE"] = $"{nodes}";
                info.Environment["MASTER_ADDR"] = "127.0.0.1";
                info.Environment["CACHE_PORT"] = $"{basePort}";
                info.Environment["CACHE_SECRET"] = secret;

                // The training processes run without tiered PGO, as the README advises trainers on few cores: its
                // instrumented tier and second compilations ran through the first epochs and took CPU from the source.
                // Same-run A/B, three rounds (default / off): loader's first epoch 1.26x, 1.19x, 1.28x / 1.15x, 1.09x,
                // 1.11x the uncached one; cached epochs 33.2x, 25.5x, 24.9x / 33.8x, 32.6x, 34.3x. An explicit
                // DOTNET_TieredPGO in the environment wins, so the default can be measured too.
                if (Environment.GetEnvironmentVariable("DOTNET_TieredPGO") is null)
                {
                    info.Environment["DOTNET_TieredPGO"] = "0";
                }

                workers.Add(Process.Start(info) ?? throw new InvalidOperationException($"cannot start {program}"));
            }

            foreach (var worker in workers)
            {
                var line = ReadLine(worker, TimeSpan.FromSeconds(60));
                if (line != "ready")
                {
                    throw new InvalidOperationException($"a mesh worker did not start: '{line}'");
                }
            }

            return [.. workers];
        }
        catch
        {
            StopWorkers(workers);
            throw;
        }
    }

    private static void StopWorkers(IEnumerable<Process> workers)
    {
        foreach (var worker in workers)
        {
            try
            {
                if (!worker.HasExited)
                {
                    worker.StandardInput.WriteLine("quit");
                    if (!worker.WaitForExit(TimeSpan.FromSeconds(10)))
                    {
                        worker.Kill(entireProcessTree: true);
                    }
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
            catch (IOException)
            {
                // Its input is closed: it is exiting.
            }
            finally
            {
                worker.Dispose();
            }
        }
    }

    private static (double Seconds, long Hits, long Misses) ReadDone(Process worker)
    {
        var line = ReadLine(worker, TimeSpan.FromMinutes(5));
        var parts = line?.Split(' ');
        if (parts is not ["done", _, _, _])
        {
            throw new InvalidOperationException($"a mesh worker answered '{line}' instead of finishing its epoch");
        }

        return (double.Parse(parts[1], CultureInfo.InvariantCulture), long.Parse(parts[2], CultureInfo.InvariantCulture), long.Parse(parts[3], CultureInfo.InvariantCulture));
    }

    private static string? ReadLine(Process worker, TimeSpan timeout)
    {
        var read = worker.StandardOutput.ReadLineAsync();
        if (!read.Wait(timeout))
        {
            throw new TimeoutException($"a mesh worker said nothing for {timeout}");
        }

        return read.Result;
    }

    /// <summary>How to start this program again: its apphost, or dotnet and its assembly.</summary>
    private static (string Program, string[] Prefix) SelfCommand()
    {
        var path = Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell this program's path");
        return Path.GetFileNameWithoutExtension(path) == "dotnet"
            ? (path, [typeof(MeshEpochScenario).Assembly.Location])
            : (path, []);
    }

    /// <summary>A first port of <paramref name="count"/> free consecutive loopback ports (rank r serves CACHE_PORT + r).</summary>
    private static int FreePortRange(int count)
    {
        var random = new Random();
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var first = random.Next(20000, 60000 - count);
            if (Enumerable.Range(first, count).All(IsFree))
            {
                return first;
            }
        }

        throw new InvalidOperationException($"no {count} consecutive free ports found");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
