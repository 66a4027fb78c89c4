using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Cache.Engine;
using Cache.Transport;
using Cache.Transport.Server;

namespace Perf;

/// <summary>
/// Filling a node with millions of distinct keys, as a dataset's first epoch does, while a second
/// connection sends a PING every few milliseconds: the PING's round trips are the event thread's stalls
/// (a peer's request waits exactly as long). The same fill runs against redis-server in the same run.
/// Fills: through RESP with redis-benchmark (<c>-t set -P 64 -c 8 -n N -r K</c>: uniform draws from K
/// keys, so about K(1 - e^(-N/K)) distinct ones) into a cache-node process and a redis-server
/// process, each measured alone (RSS from /proc); and through the library (<see cref="BlockStore.Set(ReadOnlySpan{byte}, ReadOnlySpan{byte}, long, SetCondition)"/>
/// from a thread of this process) into a node hosted here, whose event thread answers the probe.
/// Optionally (<c>--get</c>), GET <c>-P 16</c> throughput over the filled keyspace.
/// </summary>
internal static class ScaleScenario
{
    public static ScenarioResult Run(Arguments args, bool quick)
    {
        var requests = args.Long("requests", quick ? 400_000 : 12_000_000);
        var range = args.Long("range", quick ? 250_000 : 8_000_000);
        var valueBytes = args.Int("bytes", 100);
        var largeKeys = args.Long("large-keys", quick ? 0 : 100_000);
        var largeBytes = args.Int("large-bytes", 16 * 1024);
        var libraryKeys = args.Long("library-keys", quick ? 200_000 : 6_000_000);
        var getRequests = args.Long("get", 0);
        var getSmallKeys = args.Long("get-small-keys", 100_000);
        var probeMs = args.Int("probe-ms", 5);
        var policy = args.String("policy") ?? "retain";
        var budgetMb = args.Long("budget-mb", quick ? 64 : 1024);
        var budgetBytes = args.Int("budget-bytes", 1024);
        var evictMb = args.Long("evict-mb", quick ? 0 : 256);
        var evictRequests = args.Long("evict-requests", 8_000_000);
        var servers = (args.String("servers") ?? "cache,redis-server,library").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var benchmark = ExternalTools.Find("redis-benchmark");
        var rows = new List<Row>();
        var summary = new List<string>
        {
            $"PING every {probeMs} ms on its own connection during each fill; stalls are its round trips. Machine shared with other builds: stalls include their CPU.",
        };

        var fills = new List<(long Requests, long Range, int Bytes)> { (requests, range, valueBytes) };
        if (largeKeys > 0)
        {
            // Every key once (-r with as many requests as keys gives ~63% distinct; 3x the requests gives 95%).
            fills.Add((largeKeys * 3, largeKeys, largeBytes));
        }

        foreach (var (n, r, bytes) in fills)
        {
            foreach (var server in servers)
            {
                if (server == "library")
                {
                    if (bytes == valueBytes && libraryKeys > 0)
                    {
                        rows.Add(FillLibrary(libraryKeys, bytes, probeMs, policy));
                    }

                    continue;
                }

                if (benchmark is null)
                {
                    summary.Add("redis-benchmark is absent (apt-get install redis-tools): the RESP fills did not run.");
                    break;
                }

                using var process = server switch
                {
                    "cache" => ServerProcess.StartNode(policy),
                    "redis-server" => ServerProcess.StartRedis(),
                    _ => throw new ArgumentException($"--servers: '{server}' is not cache, redis-server or library."),
                };
                if (process is null)
                {
                    summary.Add($"{server} is absent: not measured.");
                    continue;
                }

                rows.Add(FillResp(process, benchmark, n, r, bytes, probeMs, getRequests, getSmallKeys: getSmallKeys));
            }
        }

        // Samples held per GB of budget: both servers with the same memory limit, filled with distinct keys
        // until the first write is refused (redis-benchmark stops at the first error reply).
        if (budgetMb > 0 && benchmark is not null)
        {
            var budgetRows = new List<Row>();
            foreach (var server in servers.Where(s => s != "library"))
            {
                using var process = server == "cache" ? ServerProcess.StartNode("retain", budgetMb) : ServerProcess.StartRedis(budgetMb);
                if (process is not null)
                {
                    var keys = budgetMb * 1024 * 1024 / budgetBytes * 2;
                    budgetRows.Add(FillResp(process, benchmark, keys * 3, keys, budgetBytes, probeMs, 0, untilRefused: true));
                }
            }

            rows.AddRange(budgetRows);
            if (budgetRows.Count == 2)
            {
                var node = (long)budgetRows[0][1].Value;
                var redis = (long)budgetRows[1][1].Value;
                summary.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{budgetBytes} B values, {budgetMb} MB budget (--capacity / --maxmemory): the node holds {node:N0} samples, redis-server {redis:N0}: {(double)node / redis:F2}x"));
            }
        }

        // Steady eviction: both servers with the same budget under LRU (--policy lru / allkeys-lru), written
        // several budgets' worth of distinct keys: keys held, RSS against the budget, stalls while every write evicts.
        if (evictMb > 0 && benchmark is not null)
        {
            var evictRows = new List<Row>();
            foreach (var server in servers.Where(s => s != "library"))
            {
                using var process = server == "cache" ? ServerProcess.StartNode("lru", evictMb, "lru") : ServerProcess.StartRedis(evictMb, "allkeys-lru", "lru");
                if (process is not null)
                {
                    evictRows.Add(FillResp(process, benchmark, evictRequests, evictRequests, valueBytes, probeMs, 0));
                }
            }

            rows.AddRange(evictRows);
            if (evictRows.Count == 2)
            {
                summary.Add(string.Create(CultureInfo.InvariantCulture,
                    $"LRU eviction, {valueBytes} B values, {evictMb} MB budget, {evictRequests:N0} writes of distinct keys: keys held node / redis-server {Value(evictRows[0], "keys") / Value(evictRows[1], "keys"):F2}x, RSS {Value(evictRows[0], "rssMb") / Value(evictRows[1], "rssMb"):F2}x (node {Value(evictRows[0], "rssMb"):F0} MB, redis-server {Value(evictRows[1], "rssMb"):F0} MB), fill {Value(evictRows[0], "fillSeconds") / Value(evictRows[1], "fillSeconds"):F2}x, max stall {Value(evictRows[0], "maxStallMs"):F1} vs {Value(evictRows[1], "maxStallMs"):F1} ms"));
            }
        }

        foreach (var bytes in rows.Where(r => !((string)r[0].Value).Contains('@', StringComparison.Ordinal)).Select(r => (int)r[2].Value).Distinct())
        {
            var node = rows.FirstOrDefault(r => (string)r[0].Value == "cache" && (int)r[2].Value == bytes);
            var redis = rows.FirstOrDefault(r => (string)r[0].Value == "redis-server" && (int)r[2].Value == bytes);
            if (node is null || redis is null)
            {
                continue;
            }

            var perEntryNode = Value(node, "rssMb") / Value(node, "keys");
            var perEntryRedis = Value(redis, "rssMb") / Value(redis, "keys");
            summary.Add(string.Create(CultureInfo.InvariantCulture,
                $"{bytes} B: node / redis-server: fill {Value(node, "fillSeconds") / Value(redis, "fillSeconds"):F2}x, RSS {Value(node, "rssMb") / Value(redis, "rssMb"):F2}x, RSS per key {perEntryNode / perEntryRedis:F2}x (keys per GB of RSS {perEntryRedis / perEntryNode:F2}x), max stall {Value(node, "maxStallMs"):F1} vs {Value(redis, "maxStallMs"):F1} ms"));
        }

        foreach (var row in rows.Where(r => r.Any(kv => kv.Key == "getP16RpsSmall")))
        {
            double V(string name) => Value(row, name);
            summary.Add(string.Create(CultureInfo.InvariantCulture,
                $"{row[0].Value}: GET -P 16 at {V("keys"):N0} keys / at {V("getKeysSmall"):N0} keys: {V("getP16Rps") / V("getP16RpsSmall"):F2}x ({V("getP16Rps"):N0}/s vs {V("getP16RpsSmall"):N0}/s)"));
        }

        return new ScenarioResult("scale", rows, summary);
    }

    /// <summary>A row's figure by column name, as a number.</summary>
    private static double Value(Row row, string name) => Convert.ToDouble(row.First(kv => kv.Key == name).Value, CultureInfo.InvariantCulture);

    /// <summary>redis-benchmark through RESP into one server process, with the PING probe running.</summary>
    private static Row FillResp(ServerProcess process, string benchmark, long requests, long range, int bytes, int probeMs, long getRequests, bool untilRefused = false, long getSmallKeys = 0)
    {
        string N(long n) => n.ToString(CultureInfo.InvariantCulture);
        // An untimed warm-up, then a flush: a fresh node's first requests run its code's first (tiered JIT)
        // compilation, a one-time cost of a process's start rather than of a fill.
        // The probe runs through the warm-up too, its figures thrown away, so that the server's PING path is as warm
        // as its SET path when the timed fill starts.
        using (new PingProbe(process.Port, probeMs))
        {
            ExternalTools.Run(benchmark, ["-p", N(process.Port), "-t", "set,get,ping", "-n", "100000", "-r", "10000", "-d", N(bytes), "-P", "64", "-c", "8", "-q"], TimeSpan.FromMinutes(5));
        }

        process.Command("*1\r\n$8\r\nFLUSHALL\r\n");

        // The reference for GET's throughput at scale: the same GETs over a small keyspace (every key present),
        // in the same process, minutes before, so that the ratio is the index's size and not the machine's hour.
        var smallRps = double.NaN;
        if (getRequests > 0 && getSmallKeys > 0)
        {
            Harness.Progress("scale", $"{process.Name}: GET -P 16 over {N(getSmallKeys)} keys first");
            ExternalTools.Run(benchmark, ["-p", N(process.Port), "-t", "set", "-n", N(getSmallKeys * 5), "-r", N(getSmallKeys), "-d", N(bytes), "-P", "64", "-c", "8", "-q"], TimeSpan.FromMinutes(10));
            smallRps = ParseRps(ExternalTools.Run(benchmark, ["-p", N(process.Port), "-t", "get", "-n", N(getRequests), "-r", N(getSmallKeys), "-P", "16", "-c", "50", "-q"], TimeSpan.FromHours(1)));
            process.Command("*1\r\n$8\r\nFLUSHALL\r\n");
        }
        Harness.Progress("scale", $"{process.Name}: SET {N(requests)} requests over {N(range)} keys of {bytes} B");
        var stopwatch = Stopwatch.StartNew();
        List<double> stalls;
        using (var probe = new PingProbe(process.Port, probeMs))
        {
            try
            {
                ExternalTools.Run(benchmark, ["-p", N(process.Port), "-t", "set", "-n", N(requests), "-r", N(range), "-d", N(bytes), "-P", "64", "-c", "8", "-q"], TimeSpan.FromHours(1));
            }
            catch (InvalidOperationException) when (untilRefused)
            {
                // The first refused write ends redis-benchmark: the budget is full.
            }

            stopwatch.Stop();
            stalls = probe.Stop();
        }

        var keys = process.DbSize();
        var rss = process.RssBytes() / 1e6;
        var row = Row(process.Name, keys, bytes, stopwatch.Elapsed.TotalSeconds, rss, stalls);
        if (getRequests > 0)
        {
            Harness.Progress("scale", $"{process.Name}: GET -P 16, {N(getRequests)} requests");
            var output = ExternalTools.Run(benchmark, ["-p", N(process.Port), "-t", "get", "-n", N(getRequests), "-r", N(range), "-P", "16", "-c", "50", "-q"], TimeSpan.FromHours(1));
            row.Add("getP16Rps", ParseRps(output));
            row.Add("getP16RpsSmall", smallRps);
            row.Add("getKeysSmall", getSmallKeys);
        }

        var info = process.Info("memory");
        string Field(string name) => info.Split("\r\n").FirstOrDefault(l => l.StartsWith(name + ":", StringComparison.Ordinal))?[(name.Length + 1)..] ?? "-";
        // The budget's charge (the node) or the allocator's count (Redis), beside the RSS read from /proc.
        row.Add("usedMemoryMb", long.TryParse(Field("used_memory"), CultureInfo.InvariantCulture, out var used) ? used / 1e6 : double.NaN);
        row.Add("gc", Field("gc_collections"));
        row.Add("gcPauseMs", Field("gc_pause_total_ms"));
        return row;
    }

    /// <summary>The library's own insert path from one thread of this process, into a node hosted here; the probe PINGs that node's event thread.</summary>
    private static Row FillLibrary(long keys, int bytes, int probeMs, string policy)
    {
        Harness.Progress("scale", $"library: {keys.ToString(CultureInfo.InvariantCulture)} keys of {bytes} B");
        var admission = policy switch
        {
            "lru" => AdmissionPolicy.Lru,
            "random" => AdmissionPolicy.Random,
            _ => AdmissionPolicy.Retain,
        };
        using var node = new CacheNode(new CacheNodeOptions { Capacity = 64L << 30, Policy = admission });
        var server = new PeerServer(node, new PeerServerOptions { BindAddress = IPAddress.Loopback, Port = 0 });
        server.Start();
        var value = new byte[bytes];
        new Random(5).NextBytes(value);
        void Insert(long count)
        {
            Span<byte> key = stackalloc byte[32];
            for (long i = 0; i < count; i++)
            {
                "sample:"u8.CopyTo(key);
                i.TryFormat(key[7..], out var written, "D12", CultureInfo.InvariantCulture);
                node.Store.Set(key[..(7 + written)], value);
            }
        }

        // An untimed warm-up with the probe running, then a clear, as FillResp does for a server process: the first
        // PING this node ever answers compiles its connection path in this process (tiered JIT), which showed as one
        // 36-78 ms stall at the start of every timed fill.
        using (new PingProbe(server.EndPoint.Port, probeMs))
        {
            Insert(Math.Min(keys, 200_000));
        }

        node.Store.Clear();

        // The baseline after the warm-up, so that the row's RSS is the fill's own.
        GC.Collect();
        var rssBefore = Environment.WorkingSet;
        var stopwatch = Stopwatch.StartNew();
        List<double> stalls;
        using (var probe = new PingProbe(server.EndPoint.Port, probeMs))
        {
            Insert(keys);
            stopwatch.Stop();
            stalls = probe.Stop();
        }

        var rss = (Environment.WorkingSet - rssBefore) / 1e6;
        var row = Row("library", node.Store.Count, bytes, stopwatch.Elapsed.TotalSeconds, rss, stalls);
        row.Add("usedMemoryMb", node.Store.BytesUsed / 1e6);
        row.Add("gc", $"{GC.CollectionCount(0)},{GC.CollectionCount(1)},{GC.CollectionCount(2)}");
        row.Add("gcPauseMs", ((long)GC.GetTotalPauseDuration().TotalMilliseconds).ToString(CultureInfo.InvariantCulture));
        server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return row;
    }

    private static Row Row(string server, long keys, int bytes, double seconds, double rssMb, List<double> stalls)
    {
        stalls.Sort();
        return new Row()
            .Add("server", server)
            .Add("keys", keys)
            .Add("valueBytes", bytes)
            .Add("fillSeconds", seconds)
            .Add("rssMb", rssMb)
            .Add("maxStallMs", stalls.Count == 0 ? double.NaN : stalls[^1])
            .Add("p99StallMs", stalls.Count == 0 ? double.NaN : stalls[(int)Math.Min(stalls.Count - 1, Math.Ceiling(stalls.Count * 0.99) - 1)])
            .Add("over50ms", stalls.Count(s => s > 50));
    }

    private static double ParseRps(string output)
    {
        // "GET: 123456.79 requests per second, p50=..." (-q); the last such figure wins.
        foreach (var line in output.Split('\n', '\r').Reverse())
        {
            var at = line.IndexOf("requests per second", StringComparison.Ordinal);
            if (at > 0)
            {
                var text = line[..at].Trim();
                text = text[(text.LastIndexOf(' ') + 1)..];
                if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var rps))
                {
                    return rps;
                }
            }
        }

        return double.NaN;
    }

    /// <summary>A server in its own process (so that its RSS is its own), started on a free port and killed at the end.</summary>
    private sealed class ServerProcess : IDisposable
    {
        private readonly Process _process;

        private ServerProcess(string name, Process process, int port)
        {
            Name = name;
            _process = process;
            Port = port;
        }

        public string Name { get; }

        public int Port { get; }

        public static ServerProcess StartNode(string policy, long budgetMb = 0, string? tag = null)
        {
            var port = ExternalTools.FreePort();
            var capacity = budgetMb > 0 ? $"{budgetMb}mb" : "20gb";
            return Start(budgetMb > 0 ? $"cache@{budgetMb}mb{(tag is null ? "" : " " + tag)}" : "cache", "dotnet", ["exec", Path.Combine(AppContext.BaseDirectory, "cache-node.dll"), "--port", port.ToString(CultureInfo.InvariantCulture), "--capacity", capacity, "--policy", policy], port);
        }

        public static ServerProcess? StartRedis(long budgetMb = 0, string budgetPolicy = "noeviction", string? tag = null)
        {
            var path = ExternalTools.Find("redis-server");
            if (path is null)
            {
                return null;
            }

            var port = ExternalTools.FreePort();
            string[] limit = budgetMb > 0 ? ["--maxmemory", $"{budgetMb}mb", "--maxmemory-policy", budgetPolicy] : [];
            return Start(budgetMb > 0 ? $"redis-server@{budgetMb}mb{(tag is null ? "" : " " + tag)}" : "redis-server", path, ["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", .. limit], port);
        }

        private static ServerProcess Start(string name, string program, string[] args, int port)
        {
            var process = ExternalTools.StartServer(name, program, args, port, TimeSpan.FromSeconds(30));
            return new ServerProcess(name, process, port);
        }

        public long RssBytes()
        {
            foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
                }
            }

            return 0;
        }

        public long DbSize()
        {
            var reply = Command("*1\r\n$6\r\nDBSIZE\r\n");
            return long.Parse(reply.AsSpan(1, reply.IndexOf('\r', StringComparison.Ordinal) - 1), CultureInfo.InvariantCulture);
        }

        public string Info(string section) => Command($"*2\r\n$4\r\nINFO\r\n${section.Length}\r\n{section}\r\n");

        public string Command(string command)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Connect(new IPEndPoint(IPAddress.Loopback, Port));
            socket.Send(Encoding.ASCII.GetBytes(command));
            socket.ReceiveTimeout = 30_000;
            var buffer = new byte[64 * 1024];
            var got = socket.Receive(buffer);
            var text = Encoding.ASCII.GetString(buffer, 0, got);
            if (text.StartsWith('$'))
            {
                // A bulk reply: read until the announced length has arrived.
                var length = int.Parse(text.AsSpan(1, text.IndexOf('\r', StringComparison.Ordinal) - 1), CultureInfo.InvariantCulture);
                var total = text.IndexOf('\n', StringComparison.Ordinal) + 1 + length + 2;
                while (got < total && got < buffer.Length)
                {
                    got += socket.Receive(buffer, got, buffer.Length - got, SocketFlags.None);
                }

                text = Encoding.ASCII.GetString(buffer, 0, got);
            }

            return text;
        }

        public void Dispose()
        {
            try
            {
                _process.Kill();
                _process.WaitForExit(10_000);
            }
            catch (InvalidOperationException)
            {
            }

            _process.Dispose();
        }
    }
}
