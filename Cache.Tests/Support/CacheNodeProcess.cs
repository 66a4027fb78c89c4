using System.Diagnostics;
using System.Globalization;

namespace Cache.Tests.Support;

/// <summary>A cache-node process (the test output's cache-node.dll) that is a member of a static mesh.</summary>
internal static class CacheNodeProcess
{
    /// <summary>Starts rank <paramref name="rank"/> of <paramref name="peers"/> and waits for its "ready" line.</summary>
    public static async Task<Process> StartAsync(string peers, int rank, string secret = "mesh-secret")
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "exec", Path.Combine(AppContext.BaseDirectory, "cache-node.dll"), "--peers", peers, "--rank", rank.ToString(CultureInfo.InvariantCulture), "--secret", secret, "--capacity", "64mb" })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var line = await process.StandardOutput.ReadLineAsync(timeout.Token);
        Assert.Contains("ready", line ?? "", StringComparison.Ordinal);
        return process;
    }
}
