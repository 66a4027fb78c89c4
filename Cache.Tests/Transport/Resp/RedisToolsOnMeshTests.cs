using System.Diagnostics;
using System.Globalization;
using Cache.Tests.Support;

namespace Cache.Tests.Transport.Resp;

/// <summary>redis-cli's debugging modes and Prometheus's Redis exporter against a member of a 3-node mesh. Skipped, with the reason, where the tools are absent.</summary>
public class RedisToolsOnMeshTests
{
    private static ProcessStartInfo Cli(int port, params string[] args) => RedisCli.StartInfo(port, lineBuffered: true, args);

    private static async Task<string> RunAsync(int port, params string[] args) => (await RedisCli.RunAsync(Cli(port, args))).Output;

    /// <summary>Starts a mode that runs until stopped and returns its first <paramref name="lines"/> lines of output.</summary>
    private static async Task<List<string>> FirstLinesAsync(int port, int lines, Func<Task>? whileRunning, params string[] args)
    {
        using var process = Process.Start(Cli(port, args))!;
        var read = new List<string>();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var first = await process.StandardOutput.ReadLineAsync(timeout.Token);
            if (first is not null)
            {
                read.Add(first);
            }

            if (whileRunning is not null)
            {
                await whileRunning();
            }

            while (read.Count < lines && await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                read.Add(line);
            }
        }
        finally
        {
            process.Kill(entireProcessTree: true);
        }

        return read;
    }

    private static async Task<TestMesh> MeshWithKeysAsync()
    {
        var mesh = TestMesh.Start(3);
        await using var client = new RespHarness(node: mesh.Nodes[0]);
        for (var i = 0; i < 90; i++)
        {
            await client.RunAsync("SET", $"ds:{i}", new string('x', i + 1));
        }

        return mesh;
    }

    [RequiresExecutableFact("redis-cli")]
    [Trait("Category", "Slow")]
    public async Task Dbsize_scan_bigkeys_memkeys_and_hotkeys_see_the_whole_mesh()
    {
        await using var mesh = await MeshWithKeysAsync();
        var port = mesh.Servers[1].EndPoint.Port;
        Assert.Equal("90", (await RunAsync(port, "dbsize")).Trim());
        var scanned = (await RunAsync(port, "--scan", "--pattern", "ds:*")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(90, scanned.Length);
        Assert.Equal(90, scanned.Distinct().Count());

        var big = await RunAsync(port, "--bigkeys");
        Assert.Contains("90 strings with", big, StringComparison.Ordinal);
        Assert.Contains("Biggest string found '\"ds:89\"' has 90 bytes", big, StringComparison.Ordinal);
        var mem = await RunAsync(port, "--memkeys");
        Assert.Contains("90 strings with", mem, StringComparison.Ordinal);

        // No policy here counts accesses: --hotkeys stops with Redis's own explanation.
        Assert.Contains("ERR An LFU maxmemory policy is not selected", await RunAsync(port, "--hotkeys"), StringComparison.Ordinal);
    }

    [RequiresExecutableFact("redis-cli", "stdbuf")]
    [Trait("Category", "Slow")]
    public async Task Stat_latency_monitor_and_info_commandstats_on_a_member()
    {
        await using var mesh = await MeshWithKeysAsync();
        var port = mesh.Servers[1].EndPoint.Port;

        var stat = await FirstLinesAsync(port, 3, null, "--stat", "-i", "0.1");
        Assert.Contains("keys", stat[1], StringComparison.Ordinal);
        Assert.StartsWith("90 ", stat[2], StringComparison.Ordinal);

        var latency = await RunAsync(port, "--latency", "--raw", "-i", "0.1");
        Assert.Matches(@"^\d+ \d+ \d+\.\d+ \d+\s*$", latency);

        // A key another member owns: the GET runs on its owner, and shows on the owner's monitor.
        var remote = Enumerable.Range(0, 90).Select(i => $"ds:{i}").First(k => new Cache.Engine.SlotMap(3).OwnerOfKey(System.Text.Encoding.UTF8.GetBytes(k)) == 2);
        var monitor = await FirstLinesAsync(mesh.Servers[2].EndPoint.Port, 2, async () =>
        {
            await RunAsync(port, "get", remote);
        }, "monitor");
        Assert.Equal("OK", monitor[0]);
        Assert.Matches($@"^\d+\.\d{{6}} \[0 [^\]]+\] ""get"" ""{remote}""$", monitor[1]);

        var info = await RunAsync(port, "info", "commandstats");
        Assert.Contains("# Commandstats", info, StringComparison.Ordinal);
        Assert.Matches(@"cmdstat_dbsize:calls=\d+,usec=\d+,usec_per_call=[\d.]+,rejected_calls=0,failed_calls=0", await RunAsync(port, "info", "commandstats") + await RunAsync(port, "dbsize") + await RunAsync(port, "info", "commandstats"));
    }

    [RequiresPackageFact("prometheus-redis-exporter", "prometheus-redis-exporter")]
    [Trait("Category", "Slow")]
    public async Task The_prometheus_exporter_scrapes_a_node_and_a_member_without_errors()
    {
        await using var node = TestServer.Start();
        await using var mesh = await MeshWithKeysAsync();
        foreach (var port in new[] { node.Port, mesh.Servers[1].EndPoint.Port })
        {
            await RunAsync(port, "get", "x");
            var listen = FreePort.Next();
            var info = new ProcessStartInfo(Executables.Find("prometheus-redis-exporter")!) { RedirectStandardOutput = true, RedirectStandardError = true };
            info.ArgumentList.Add("-redis.addr");
            info.ArgumentList.Add($"redis://127.0.0.1:{port}");
            info.ArgumentList.Add("-web.listen-address");
            info.ArgumentList.Add($"127.0.0.1:{listen}");
            using var exporter = Process.Start(info)!;
            var log = exporter.StandardError.ReadToEndAsync();
            try
            {
                using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
                string? metrics = null;
                for (var attempt = 0; attempt < 100 && metrics is null; attempt++)
                {
                    try
                    {
                        metrics = await http.GetStringAsync(new Uri($"http://127.0.0.1:{listen}/metrics"));
                    }
                    catch (HttpRequestException)
                    {
                        // Not listening yet: the exporter is still starting.
                        await Task.Yield();
                    }
                }

                Assert.NotNull(metrics);
                Assert.Contains("redis_up 1", metrics, StringComparison.Ordinal);
                Assert.Matches(@"redis_commands_total\{cmd=""get""\} \d+", metrics);
                Assert.Matches(@"redis_commands_duration_seconds_total\{cmd=""get""\} [\d.e+-]+", metrics);
                Assert.Contains("redis_exporter_last_scrape_error{err=\"\"} 0", metrics, StringComparison.Ordinal);
            }
            finally
            {
                exporter.Kill(entireProcessTree: true);
            }

            var text = await log;
            Assert.DoesNotContain("level=error", text, StringComparison.Ordinal);
            Assert.DoesNotContain("unknown command", text, StringComparison.Ordinal);
        }
    }
}
