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

    // The batch of the loader and cached-batch modes (GetMany of 64, as CacheLoader reads).
    private const int BatchSize = 64;

    // The warm-up's fills per mode and round, and their samples per rank (see WarmUp).
    private const int WarmUpFills = 4;
    private const int WarmUpSamplesPerRank = 512;

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

        string[] allModes = ["uncached", "cached", "cached-batch", "loader"];
        var modes = args.String("modes") is { } only ? only.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : allModes;
        if (modes.Length == 0 || modes.Any(m => !allModes.Contains(m)) || !modes.Contains("uncached"))
        {
            throw new ArgumentException($"--modes takes a comma-separated list of {string.Join(", ", allModes)} that includes uncached (every figure is a ratio to it).");
        }
        var readAhead = args.Int("read-ahead", 4);
        var workersOption = args.String("workers");
        var loaderWorkers = workersOption is null ? Math.Max(1, Environment.ProcessorCount / nodes) : args.Int("workers", 1);
        if (readAhead < 1 || loaderWorkers < 1)
        {
            throw new ArgumentException("--workers and --read-ahead must be at least 1.");
        }

        // Room for every cached dataset of the run (each mode and repeat has its own) and for a warm-up dataset (cleared
        // before the next), with slack for imbalance between owners.
        var capacityPerHost = (((long)samples * repeats * 3) + ((long)WarmUpSamplesPerRank * nodes)) * (payload + 64 + Cache.Engine.BlockStore.EntryOverhead) * 2;
        var warmUp = args.Int("warm-up", 1);

        // With --preallocate 1, each process commits the memory its share of the timed datasets needs (after the warm-up,
        // which would use it up), as a trainer does with CacheOptions.PreallocatePerNode: the first epochs then write into
        // memory the machine has already backed. Its share: samples / nodes of each cached mode and repeat, with slack for
        // owners that hold more than their quarter.
        var storedModes = modes.Count(m => m != "uncached");
        var preallocate = args.Int("preallocate", 0) != 0
            ? (long)Math.Ceiling(samples * 1.15 / nodes) * storedModes * repeats * (payload + 64)
            : 0;
        var freshGBps = Harness.FreshMemoryGBps();
        var workers = StartWorkers(nodes, samples, payload, costMs, capacityPerHost, workersOption is null ? null : loaderWorkers, readAhead, warmUp, preallocate);
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
        var filled = (double)samples * (payload + 64);
        summary.Add(preallocate > 0
            ? $"fresh memory here: {freshGBps:F2} GB/s; each process committed its share of the timed datasets' memory ({preallocate >> 20} MB) before they ran (--preallocate 1), so their first epochs wrote into memory already backed."
            : $"fresh memory here: {freshGBps:F2} GB/s (a store committing 64 MB; after other scenarios, part of it may have been backed already); an epoch that fills a cached dataset puts {filled / (1 << 20):F0} MB in fresh memory (--preallocate 1 commits it before the timed epochs).");
        double First(string mode) => Harness.Median(seconds[(mode, 1)]) / Harness.Median(seconds[("uncached", 1)]);
        if (epochs >= 2)
        {
            var later = Enumerable.Range(2, epochs - 1).ToArray();
            double Speedup(string mode) => later.Average(e => Harness.Median(seconds[("uncached", e)])) / later.Average(e => Harness.Median(seconds[(mode, e)]));
            if (modes.Contains("cached"))
            {
                summary.Add($"epochs 2-{epochs}: cached is {Speedup("cached"):F1}x faster than uncached (one sample at a time, {(nodes - 1) * 100 / nodes}% of them owned by another process).");
            }

            if (modes.Contains("cached-batch"))
            {
                summary.Add($"epochs 2-{epochs}: cached-batch (GetMany of 64) is {Speedup("cached-batch"):F1}x faster than uncached.");
            }

            if (modes.Contains("loader"))
            {
                summary.Add($"epochs 2-{epochs}: loader ({loaderWorkers} worker{(loaderWorkers == 1 ? "" : "s")} per process, read-ahead {readAhead}) is {Speedup("loader"):F1}x faster than uncached.");
            }
        }

        foreach (var mode in modes.Where(m => m is "loader" or "cached-batch"))
        {
            summary.Add($"epoch 1: {mode} takes {First(mode):F2}x the time of uncached.");
        }

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
        var preallocate = args.Long("preallocate", 0);
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
                var options = new DataLoaderOptions { BatchSize = BatchSize, ReadAhead = readAhead, Workers = workersOption is null ? null : int.Parse(workersOption, CultureInfo.InvariantCulture) };
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
                foreach (var batch in share.Chunk(BatchSize))
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
            var trace = ThreadCpuTrace.Enabled ? new ThreadCpuTrace() : null;
            var jitLog = Environment.GetEnvironmentVariable("DOTNET_JitStdOutFile") is not null;
            if (warmUp)
            {
                WarmUp(RunEpoch, ClearWarmUp, payload, launch.WorldSize);
            }

            // Clears a warm-up dataset: room in the store for the next fill and for the timed datasets, as without the warm-up.
            void ClearWarmUp(string name)
            {
                if (datasets.TryGetValue(name, out var dataset))
                {
                    dataset.Clear();
                }

                if (views.TryGetValue(name, out var view))
                {
                    view.Dataset.Clear();
                }
            }

            if (preallocate > 0)
            {
                // The process's node, which the first dataset created.
                Cache.Transport.CacheNode.AcquireProcessMeshNode(new Cache.Transport.CacheNodeOptions { Capacity = capacity }, launch).Store.Preallocate(preallocate);
            }

            // The trace's own code is compiled here, not in the first timed epoch.
            trace?.Report("start-up");
            Console.WriteLine("ready");
            while (Console.ReadLine() is { } line)
            {
                var parts = line.Split(' ');
                if (parts[0] == "quit")
                {
                    break;
                }

                trace?.Report("idle");
                var jitBefore = System.Runtime.JitInfo.GetCompiledMethodCount();
                var (seconds, hits, misses) = RunEpoch(parts[1], parts[2], int.Parse(parts[3], CultureInfo.InvariantCulture), source);
                if (jitLog)
                {
                    // The methods this epoch compiled are the lines after jitBefore in the rank's DOTNET_JitStdOutFile.
                    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[jit] rank {launch.Rank} {line}: methods {jitBefore + 1}-{System.Runtime.JitInfo.GetCompiledMethodCount()}"));
                }

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
    /// Runs every mode's code before anything is timed, in the timed epochs' shape (batches of 64, the rank's share of
    /// 512 samples per rank) but over samples that cost almost nothing: per round and mode, four fills of an empty dataset,
    /// each read twice (the first epoch misses, so production, the write-behind and the owners' stores run; the second
    /// hits), then cleared. Each round is followed by a pause for the JIT's background compiler to finish the hot methods at tier 1.
    /// Without it, the first timed epoch of each mode pays for compiling that mode's code, a start-up cost of the process,
    /// not of the epoch: the tiered compiler's thread took 130-180 ms of CPU per process in the loader's first epoch (traced
    /// with CACHE_PERF_THREADS=1), and on 4 processes sharing 2 cores it made the quick suite's first epoch 1.4x the
    /// uncached one. The four fills matter too: code that runs once per batch (a read and a write per owner, the
    /// flusher's round, the owner's turn-taking under a 256 KB write) needs 30 counted calls to reach tier 1, and one
    /// dataset read three times gave it 8 misses and 16 hits a round (traced with DOTNET_JitDisasmSummary: about 70 methods,
    /// 50-80 ms of JIT per rank, compiled during the first timed epoch). <c>--warm-up 0</c> turns it off.
    /// </summary>
    private static void WarmUp(Func<string, string, int, SyntheticDataset, (double, long, long)> runEpoch, Action<string> clear, int payload, int worldSize)
    {
        // Samples that cost a little, so that the source's busy loop runs (and is compiled) too.
        var cheap = new SyntheticDataset(WarmUpSamplesPerRank * worldSize, payload, costMs: 0.02);

        // Two rounds: the JIT counts a method's calls only after a delay, so the methods that became hot in the first
        // round are counted, and promoted, in the second.
        for (var round = 0; round < 2; round++)
        {
            foreach (var mode in new[] { "uncached", "cached", "cached-batch", "loader" })
            {
                for (var fill = 0; fill < WarmUpFills; fill++)
                {
                    // Two datasets a mode, each filled and cleared in turn: few datasets, because the code that makes one
                    // (options, settings, the write-behind's channels) also reaches tier 1 at its 30th call, and a warm-up that
                    // made 24 had the 30th, and 90 methods' compilation, fall in a timed epoch.
                    var name = $"warm-{mode}-{fill % 2}";
                    var seed = 900_000 + (round * 100) + (fill * 10);
                    runEpoch(mode, name, seed, cheap);
                    runEpoch(mode, name, seed + 1, cheap);

                    // The ranks warm up without waiting for each other: a rank still reading this dataset may find some of
                    // its samples cleared by another, which only turns a few hits into misses.
                    clear(name);
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

    private static Process[] StartWorkers(int nodes, int samples, int payload, double costMs, long capacityPerHost, int? loaderWorkers, int readAhead, int warmUp, long preallocate)
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
                foreach (var arg in prefix.Concat([WorkerCommand, "--samples", $"{samples}", "--bytes", $"{payload}", "--cost-ms", costMs.ToString(CultureInfo.InvariantCulture), "--capacity", $"{capacityPerHost}", "--read-ahead", $"{readAhead}", "--warm-up", $"{warmUp}", "--preallocate", $"{preallocate}", .. (loaderWorkers is { } w ? new[] { "--workers", $"{w}" } : [])]))
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

                if (Environment.GetEnvironmentVariable("CACHE_PERF_JIT_DIR") is { } jitDir)
                {
                    info.Environment["DOTNET_JitStdOutFile"] = Path.Combine(jitDir, $"jit-{rank}.txt");
                    info.Environment["DOTNET_JitDisasmSummary"] = "1";
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
