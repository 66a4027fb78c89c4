using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Cache.Tests.Support;

namespace Cache.Tests.Node;

/// <summary>The cache-node program as a separate process: it announces readiness, serves, and stops cleanly on SIGTERM.</summary>
[Trait("Category", "Slow")]
public partial class CacheNodeProcessTests
{
    [GeneratedRegex(@"ready on 127\.0\.0\.1:(\d+)")]
    private static partial Regex ReadyLine();

    private const int SigTerm = 15;

    private static string NodeAssembly() => Path.Combine(AppContext.BaseDirectory, "cache-node.dll");

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);

    [Fact]
    public async Task Cache_node_prints_ready_serves_resp_and_stops_on_sigterm()
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "exec", NodeAssembly(), "--port", "0", "--capacity", "64mb", "--policy", "lru" })
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var line = await process.StandardOutput.ReadLineAsync(timeout.Token);
            Assert.NotNull(line);
            var match = ReadyLine().Match(line!);
            Assert.True(match.Success, $"unexpected first line: {line}");
            var port = int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);

            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync("127.0.0.1", port);
            await socket.SendAsync(RespReply.Command("CONFIG", "GET", "maxmemory-policy"), SocketFlags.None);
            var buffer = new byte[256];
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None);
            Assert.Contains("allkeys-lru", Encoding.ASCII.GetString(buffer, 0, n), StringComparison.Ordinal);

            // SIGTERM, as a process manager would send it.
            Assert.Equal(0, SendSignal(process.Id, SigTerm));

            await process.WaitForExitAsync(timeout.Token);
            Assert.Equal(0, process.ExitCode);
            var rest = await process.StandardOutput.ReadToEndAsync(timeout.Token);
            Assert.Contains("cache-node stopped", rest, StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    [Fact]
    public async Task Cache_node_refuses_a_bad_option_with_its_name()
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "exec", NodeAssembly(), "--capacity", "-5" })
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var error = await process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        Assert.Equal(2, process.ExitCode);
        Assert.Contains("--capacity", error, StringComparison.Ordinal);
    }
}
