using System.Globalization;
using System.Net;
using Cache.Engine;
using Cache.Transport;
using Cache.Transport.Server;
using Garnet;

namespace Perf;

/// <summary>
/// redis-benchmark, with the same command lines, against a node hosted in this process, against
/// redis-server (started here on a free port, persistence off) and against Garnet (hosted in this
/// process). Servers are interleaved within each run; every case runs several times and the median is
/// reported, with the ratio to redis-server.
/// </summary>
internal static class RespScenario
{
    private sealed record Case(string Label, int Pipeline, int ValueBytes, string[] Args);

    public static ScenarioResult Run(Arguments args, bool quick)
    {
        var runs = Math.Max(1, args.Int("runs", quick ? 2 : 3));
        var small = args.Int("requests", quick ? 50_000 : 200_000);
        var large = args.Int("large-requests", quick ? 5_000 : 20_000);
        var benchmark = ExternalTools.Find("redis-benchmark");
        if (benchmark is null)
        {
            return new ScenarioResult("resp", [], ["redis-benchmark is absent (apt-get install redis-tools): the scenario did not run."]);
        }

        string N(int n) => n.ToString(CultureInfo.InvariantCulture);
        Case[] cases =
        [
            new("1 KB, -P 1", 1, 1024, ["-t", "set,get", "-n", N(small), "-c", "50", "-d", "1024", "-r", "100000", "-P", "1"]),
            // Pipelined runs are short; at least 400,000 requests keep them long enough to measure.
            new("1 KB, -P 16", 16, 1024, ["-t", "set,get", "-n", N(Math.Max(small * 2, 400_000)), "-c", "50", "-d", "1024", "-r", "100000", "-P", "16"]),
            new("100 KB, -P 4", 4, 102400, ["-t", "set,get", "-n", N(large), "-c", "50", "-d", "102400", "-P", "4"]),
        ];

        using var node = new CacheNode(new CacheNodeOptions { Capacity = 4L << 30, Policy = AdmissionPolicy.Retain });
        var server = new PeerServer(node, new PeerServerOptions { BindAddress = IPAddress.Loopback, Port = 0 });
        server.Start();
        using var redis = RedisServerProcess.TryStart();
        var garnetPort = ExternalTools.FreePort();
        GarnetServer? garnet = null;
        string? garnetError = null;
        try
        {
            garnet = new GarnetServer(["--port", N(garnetPort), "--bind", "127.0.0.1", "--memory", "4g", "--index", "128m", "--logger-level", "Error"]);
            garnet.Start();
            if (!ExternalTools.WaitForPing(garnetPort, TimeSpan.FromSeconds(20)))
            {
                garnetError = "did not answer PING";
            }
        }
#pragma warning disable CA1031 // Any failure to host the competitor is reported as its absence, not a crash.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            garnetError = ex.Message;
            garnet?.Dispose();
            garnet = null;
        }

        var servers = new List<(string Name, int Port)> { ("cache", server.EndPoint.Port) };
        if (redis is not null)
        {
            servers.Add(("redis-server", redis.Port));
        }

        if (garnet is not null && garnetError is null)
        {
            servers.Add(("garnet", garnetPort));
        }

        var results = new Dictionary<(string Server, string Case, string Test), List<double>>();
        try
        {
            // One untimed pass of every case against every server, with a quarter of the requests: the node
            // and Garnet compile their hot paths (tiered JIT: a cold first run measured startup, not the
            // server), and every server fills its keyspace before the runs that count.
            foreach (var c in cases)
            {
                foreach (var (name, port) in servers)
                {
                    Harness.Progress("resp", $"warm-up: {c.Label} against {name}");
                    var shorter = c.Args.ToArray();
                    var n = Array.IndexOf(shorter, "-n") + 1;
                    shorter[n] = N(Math.Max(1000, int.Parse(shorter[n], CultureInfo.InvariantCulture) / 4));
                    ExternalTools.Run(benchmark, ["-h", "127.0.0.1", "-p", N(port), .. shorter, "--csv"], TimeSpan.FromMinutes(10));
                }
            }

            for (var run = 1; run <= runs; run++)
            {
                foreach (var c in cases)
                {
                    foreach (var (name, port) in servers)
                    {
                        Harness.Progress("resp", $"run {run}/{runs}: {c.Label} against {name}");
                        var csv = ExternalTools.Run(benchmark, ["-h", "127.0.0.1", "-p", N(port), .. c.Args, "--csv"], TimeSpan.FromMinutes(10));
                        foreach (var (test, rps) in ParseCsv(csv))
                        {
                            var key = (name, c.Label, test);
                            if (!results.TryGetValue(key, out var list))
                            {
                                results[key] = list = [];
                            }

                            list.Add(rps);
                        }
                    }
                }
            }
        }
        finally
        {
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            garnet?.Dispose();
        }

        var rows = new List<Row>();
        var summary = new List<string>
        {
            $"redis-benchmark -c 50; one untimed warm-up pass, then {runs} runs, servers interleaved, medians. cache = this project's node (in-process); " +
            (redis is null ? "redis-server: absent; " : $"redis-server {RedisServerProcess.Version()} (--save \"\" --appendonly no); ") +
            (garnet is null || garnetError is not null ? $"garnet: absent ({garnetError})." : "garnet: Microsoft.Garnet 2.2.8 in-process."),
        };
        foreach (var c in cases)
        {
            foreach (var test in new[] { "SET", "GET" })
            {
                double? redisRps = results.TryGetValue(("redis-server", c.Label, test), out var r) ? Harness.Median(r) : null;
                foreach (var (name, _) in servers)
                {
                    if (!results.TryGetValue((name, c.Label, test), out var list))
                    {
                        continue;
                    }

                    var rps = Harness.Median(list);
                    rows.Add(new Row()
                        .Add("server", name)
                        .Add("test", test)
                        .Add("pipeline", c.Pipeline)
                        .Add("valueBytes", c.ValueBytes)
                        .Add("rps", rps)
                        .Add("vsRedis", redisRps is { } baseline ? rps / baseline : double.NaN));
                }

                if (redisRps is { } b && results.TryGetValue(("cache", c.Label, test), out var mine))
                {
                    summary.Add($"{test} {c.Label}: cache/redis-server = {Harness.Median(mine) / b:F2}");
                }
            }
        }

        return new ScenarioResult("resp", rows, summary);
    }

    private static IEnumerable<(string Test, double Rps)> ParseCsv(string csv)
    {
        foreach (var line in csv.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var cells = line.Split(',');
            if (cells.Length < 2 || cells[0] == "\"test\"")
            {
                continue;
            }

            var test = cells[0].Trim('"');
            if (double.TryParse(cells[1].Trim('"'), NumberStyles.Float, CultureInfo.InvariantCulture, out var rps))
            {
                yield return (test, rps);
            }
        }
    }
}
