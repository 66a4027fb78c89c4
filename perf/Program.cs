using Perf;

// The node's socket settings (see Cache.Node's Program.cs): completions inline on one event thread. They
// must be set before the first socket is used and apply to everything in this process, Garnet included.
Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT", "1");

var scenarios = new Dictionary<string, Func<Arguments, bool, ScenarioResult>>(StringComparer.OrdinalIgnoreCase)
{
    ["epoch"] = EpochScenario.Run,
    ["hitrate"] = HitRateScenario.Run,
    ["local"] = LocalScenario.Run,
    ["resp"] = RespScenario.Run,
    ["peer"] = PeerScenario.Run,
    ["scale"] = ScaleScenario.Run,
};

if (args.Length > 0 && args[0] == "ping-probe")
{
    // The PING probe of `scale`, in a process of its own (see PingProbe).
    return PingProbe.ProcessMain(args[1..]);
}

if (args.Length > 0 && args[0] == "epoch-worker")
{
    // One training process of `epoch --nodes N`, started and driven by the harness.
    return MeshEpochScenario.Worker(new Arguments(args[1..]));
}

if (args.Length > 0 && args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine("usage: perf [scenario] [--option value ...] [--json FILE]");
    Console.WriteLine("  no scenario: a quick suite of every scenario at small sizes");
    Console.WriteLine("  epoch    --samples N --bytes B --cost-ms MS --epochs E --repeats R --workers W --read-ahead B --backend peer|redis");
    Console.WriteLine("  epoch    --nodes N ... --modes uncached,cached,cached-batch,loader --warm-up 0|1 --preallocate 0|1");
    Console.WriteLine("           (N processes forming a mesh, each reading its share of every epoch)");
    Console.WriteLine("  hitrate  --samples N --bytes B --epochs E");
    Console.WriteLine("  local    --repeats R --ms MS");
    Console.WriteLine("  resp     --runs R --requests N --large-requests N   (needs redis-benchmark; redis-server optional)");
    Console.WriteLine("  peer     --repeats R --ms MS   (batched reads from a cache-node process; redis-server optional)");
    Console.WriteLine("  scale    --requests N --range K --bytes B --large-keys N --large-bytes B --library-keys N --get N");
    Console.WriteLine("           --policy retain|lru --servers cache,redis-server,library --probe-ms MS   (fills with a PING probe; needs redis-benchmark)");
    return 0;
}

try
{
    var quick = args.Length == 0 || args[0].StartsWith("--", StringComparison.Ordinal);
    var options = new Arguments(quick ? args : args[1..]);
    var json = options.String("json");
    var results = new List<ScenarioResult>();
    if (quick)
    {
        Console.WriteLine($"# perf quick suite ({Environment.ProcessorCount} cores, .NET {Environment.Version}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription})");
        foreach (var (name, run) in scenarios)
        {
            var result = run(options, true);
            Harness.Print(result);
            results.Add(result);
            if (name == "epoch")
            {
                // The same epochs over a mesh of four processes.
                result = MeshEpochScenario.Run(options, true, nodes: 4);
                Harness.Print(result);
                results.Add(result);
            }
        }
    }
    else
    {
        if (!scenarios.TryGetValue(args[0], out var run))
        {
            Console.Error.WriteLine($"Unknown scenario '{args[0]}'. Scenarios: {string.Join(", ", scenarios.Keys)}.");
            return 2;
        }

        var result = run(options, false);
        Harness.Print(result);
        results.Add(result);
    }

    options.ThrowIfUnused();
    if (json is not null)
    {
        Harness.WriteJson(json, results);
        Console.WriteLine($"wrote {json}");
    }

    return 0;
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}
