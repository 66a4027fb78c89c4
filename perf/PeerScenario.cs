using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Cache.Engine;
using Cache.Transport.Peer;
using StackExchange.Redis;

namespace Perf;

/// <summary>
/// Batched reads from another process on loopback: 64 values per request through the native peer
/// protocol (a cache-node process the harness starts) and, in the same run, through StackExchange.Redis
/// MGET against a redis-server the harness starts. One request in flight at a time, as a loader fetching
/// its next batch; median of repeated timed runs.
/// </summary>
internal static class PeerScenario
{
    public static ScenarioResult Run(Arguments args, bool quick)
    {
        var repeats = Math.Max(1, args.Int("repeats", quick ? 3 : 7));
        var millis = args.Int("ms", quick ? 300 : 1000);
        const int Batch = 64;
        var port = ExternalTools.FreePort();
        using var node = StartNode(port);
        using var redis = RedisServerProcess.TryStart();
        var rows = new List<Row>();
        var summary = new List<string> { $"batches of {Batch}, one in flight; median of {repeats} runs of {millis} ms; both servers in their own process on loopback." };
        var client = new PeerClient(new IPEndPoint(IPAddress.Loopback, port), new PeerClientOptions { RequestTimeout = TimeSpan.FromSeconds(5) });
        using var mux = redis is null ? null : ConnectionMultiplexer.Connect($"127.0.0.1:{redis.Port}");
        try
        {
            foreach (var valueBytes in new[] { 1024, 100 * 1024 })
            {
                var keys = Enumerable.Range(0, Batch).Select(i => StoreKey.Copy(Encoding.ASCII.GetBytes($"peer:{valueBytes}:{i}"))).ToArray();
                var value = new byte[valueBytes];
                new Random(3).NextBytes(value);
                client.SetManyAsync(keys.Select(k => new KeyValuePair<StoreKey, byte[]>(k, value)).ToList()).GetAwaiter().GetResult();
                var redisKeys = keys.Select(k => (RedisKey)k.Memory.ToArray()).ToArray();
                mux?.GetDatabase().StringSet(redisKeys.Select(k => new KeyValuePair<RedisKey, RedisValue>(k, value)).ToArray());

                var peerTimes = new List<double>();
                var inlineTimes = new List<double>();
                var redisTimes = new List<double>();
                for (var r = 0; r < repeats; r++)
                {
                    Harness.Progress("peer", $"{valueBytes} B, run {r + 1}/{repeats}");
                    peerTimes.Add(Measure(millis, () => client.GetManyAsync(keys).GetAwaiter().GetResult()!.Length));

                    // The loader's read-ahead path: the reply completes the read on the connection's reader thread.
                    inlineTimes.Add(Measure(millis, () => client.GetManyAsync(keys, completeInline: true).GetAwaiter().GetResult()!.Length));
                    if (mux is not null)
                    {
                        var db = mux.GetDatabase();
                        redisTimes.Add(Measure(millis, () => db.StringGetAsync(redisKeys).GetAwaiter().GetResult().Length));
                    }
                }

                var peerRate = Harness.Median(peerTimes) * Batch;
                var inlineRate = Harness.Median(inlineTimes) * Batch;
                rows.Add(Row("peer", valueBytes, Batch, peerRate));
                rows.Add(Row("peer-inline", valueBytes, Batch, inlineRate));
                if (mux is not null)
                {
                    var redisRate = Harness.Median(redisTimes) * Batch;
                    rows.Add(Row("stackexchange-redis-mget", valueBytes, Batch, redisRate));
                    summary.Add($"{valueBytes} B: the peer protocol reads {peerRate / redisRate:F2}x as many samples per second as StackExchange.Redis MGET against redis-server ({inlineRate / redisRate:F2}x completed on the reader thread, as the loader reads).");
                }
                else
                {
                    summary.Add("redis-server is absent: no comparison.");
                }
            }
        }
        finally
        {
            client.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        return new ScenarioResult("peer", rows, summary);
    }

    private static Row Row(string client, int valueBytes, int batch, double samplesPerSecond) => new Row()
        .Add("client", client)
        .Add("valueBytes", valueBytes)
        .Add("batch", batch)
        .Add("samplesPerSecond", samplesPerSecond)
        .Add("gbPerSecond", samplesPerSecond * valueBytes / 1e9);

    /// <summary>Batches per second over about <paramref name="millis"/>, after a warm-up.</summary>
    private static double Measure(int millis, Func<int> fetch)
    {
        for (var i = 0; i < 20; i++)
        {
            fetch();
        }

        var budget = Stopwatch.Frequency * millis / 1000;
        var start = Stopwatch.GetTimestamp();
        long batches = 0;
        long sink = 0;
        while (Stopwatch.GetTimestamp() - start < budget)
        {
            sink += fetch();
            batches++;
        }

        GC.KeepAlive(sink);
        return batches / Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    private static NodeProcess StartNode(int port) => new(port);

    private sealed class NodeProcess : IDisposable
    {
        private readonly Process _process;

        public NodeProcess(int port)
        {
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { "exec", Path.Combine(AppContext.BaseDirectory, "cache-node.dll"), "--port", port.ToString(CultureInfo.InvariantCulture), "--capacity", "1gb" })
            {
                info.ArgumentList.Add(arg);
            }

            _process = Process.Start(info)!;
            _process.ErrorDataReceived += (_, _) => { };
            _process.BeginErrorReadLine();
            var ready = _process.StandardOutput.ReadLine();
            if (ready is null || !ready.Contains("ready", StringComparison.Ordinal))
            {
                _process.Kill();
                throw new InvalidOperationException($"cache-node did not start: {ready}");
            }
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(5000);
            }

            _process.Dispose();
        }
    }
}
