using System.Diagnostics;
using System.Globalization;

namespace Cache.Tests.Support;

/// <summary>Runs Debian's redis-cli against a local port, as people type it, and returns what it printed.</summary>
internal static class RedisCli
{
    /// <summary>redis-cli -p <paramref name="port"/> <paramref name="args"/>, line-buffered when <paramref name="lineBuffered"/> (for modes read while they run).</summary>
    public static ProcessStartInfo StartInfo(int port, bool lineBuffered, params string[] args)
    {
        var cli = Executables.Find("redis-cli")!;
        var info = new ProcessStartInfo(lineBuffered ? Executables.Find("stdbuf") ?? "stdbuf" : cli) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        if (lineBuffered)
        {
            info.ArgumentList.Add("-oL");
            info.ArgumentList.Add(cli);
        }

        info.ArgumentList.Add("-p");
        info.ArgumentList.Add(port.ToString(CultureInfo.InvariantCulture));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return info;
    }

    /// <summary>Runs to completion (killed after 30 s) with no input; the exit code and stdout followed by stderr.</summary>
    public static async Task<(int Exit, string Output)> RunAsync(ProcessStartInfo info)
    {
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        return (process.ExitCode, await output + await error);
    }
}
