using System.Diagnostics;
using Cache.Tests.Support;

namespace Cache.Tests.Transport.Resp;

/// <summary>redis-cli, as people use it, against a node. Skipped with a reason when redis-tools is absent.</summary>
[Trait("Category", "Slow")]
public class RedisCliTests
{
    private static Task<(int Exit, string Output)> CliAsync(int port, params string[] args) =>
        RedisCli.RunAsync(RedisCli.StartInfo(port, lineBuffered: false, args));

    [RequiresExecutableFact("redis-cli")]
    public async Task Ping_set_get_dbsize_info()
    {
        await using var server = TestServer.Start();
        Assert.Equal("PONG", (await CliAsync(server.Port, "PING")).Output.Trim());
        Assert.Equal("OK", (await CliAsync(server.Port, "SET", "sample:1", "hello")).Output.Trim());
        Assert.Equal("hello", (await CliAsync(server.Port, "GET", "sample:1")).Output.Trim());
        Assert.Equal("1", (await CliAsync(server.Port, "DBSIZE")).Output.Trim());
        var info = (await CliAsync(server.Port, "INFO")).Output;
        Assert.Contains("keyspace_hits:1", info, StringComparison.Ordinal);
        Assert.Contains("db0:keys=1", info, StringComparison.Ordinal);
    }

    [RequiresExecutableFact("redis-cli")]
    public async Task Scan_with_a_pattern_lists_matching_keys()
    {
        await using var server = TestServer.Start();
        for (var i = 0; i < 30; i++)
        {
            server.Node.Store.Set(System.Text.Encoding.ASCII.GetBytes($"ds:{i}"), "v"u8);
        }

        server.Node.Store.Set("other"u8, "v"u8);
        var (exit, output) = await CliAsync(server.Port, "--scan", "--pattern", "ds:*");
        Assert.Equal(0, exit);
        var keys = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(30, keys.Distinct().Count());
        Assert.All(keys, k => Assert.StartsWith("ds:", k, StringComparison.Ordinal));
    }

    [RequiresExecutableFact("redis-cli")]
    public async Task Bigkeys_reports_the_biggest_string()
    {
        await using var server = TestServer.Start();
        server.Node.Store.Set("small"u8, new byte[10]);
        server.Node.Store.Set("huge"u8, new byte[5000]);
        var (exit, output) = await CliAsync(server.Port, "--bigkeys");
        Assert.Equal(0, exit);
        Assert.Contains("Biggest string found '\"huge\"' has 5000 bytes", output, StringComparison.Ordinal);
    }

    [RequiresExecutableFact("redis-cli")]
    public async Task Stat_prints_rows_of_keys_memory_and_clients()
    {
        await using var server = TestServer.Start();
        server.Node.Store.Set("k"u8, "v"u8);

        // --stat runs until interrupted and buffers its output when it is not on a terminal: stdbuf
        // makes it line-buffered, and the test stops it after the first data row.
        var info = new ProcessStartInfo(Executables.Find("stdbuf") ?? "stdbuf") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-oL", Executables.Find("redis-cli")!, "-p", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--stat", "-i", "0.1" })
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var lines = new List<string>();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            while (lines.Count(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is [ "1", _, "1", ..]) < 2)
            {
                var line = await process.StandardOutput.ReadLineAsync(timeout.Token);
                if (line is null)
                {
                    break;
                }

                lines.Add(line);
            }
        }
        finally
        {
            process.Kill();
        }

        var text = string.Join('\n', lines);
        Assert.Contains("keys", text, StringComparison.Ordinal);
        Assert.Contains("clients", text, StringComparison.Ordinal);
        Assert.Contains(lines, l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is ["1", _, "1", ..]);
    }

    [RequiresExecutableFact("redis-cli")]
    public async Task Auth_with_a_password_from_the_command_line()
    {
        await using var server = TestServer.Start(new PeerServerOptions { RequirePass = "pw" });
        Assert.Contains("NOAUTH", (await CliAsync(server.Port, "GET", "k")).Output, StringComparison.Ordinal);
        Assert.Equal("PONG", (await CliAsync(server.Port, "-a", "pw", "--no-auth-warning", "PING")).Output.Trim());
        Assert.Contains("WRONGPASS", (await CliAsync(server.Port, "-a", "bad", "--no-auth-warning", "PING")).Output, StringComparison.Ordinal);
    }
}
