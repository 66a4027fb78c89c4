using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Xunit.Abstractions;

namespace Cache.Tests.Faults;

/// <summary>
/// A mesh of cache-node processes in a <see cref="NetworkLab"/>, rank 0 being the <see cref="FaultDriver"/>
/// (the training rank whose reads are measured), ranks 1.. being `cache-node` processes, each in its own
/// namespace. Dispose tears the lab down, processes first. Not thread-safe.
/// </summary>
internal sealed class FaultMesh : IDisposable
{
    public const int Port = 7379;
    private const string Secret = "fault-secret";
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(120);
    private readonly ITestOutputHelper _output;
    private readonly Process[] _members;
    private readonly Process _driver;

    private readonly Func<int, string[]> _nodeArguments;
    private readonly Dictionary<string, string> _environment;

    /// <summary>Where the processes' logs go when CACHE_FAULT_LOGS names a folder (Debug level), else nowhere.</summary>
    private static readonly string? LogFolder = Environment.GetEnvironmentVariable("CACHE_FAULT_LOGS") is { Length: > 0 } folder ? Directory.CreateDirectory(folder).FullName : null;

    private FaultMesh(NetworkLab lab, ITestOutputHelper output, Process driver, Process[] members, Func<int, string[]> nodeArguments, Dictionary<string, string> environment)
    {
        _nodeArguments = nodeArguments;
        _environment = environment;
        Lab = lab;
        _output = output;
        _driver = driver;
        _members = members;
    }

    public NetworkLab Lab { get; }

    /// <summary>The cache-node process of <paramref name="rank"/> (1 or more).</summary>
    public Process Member(int rank) => _members[rank - 1];

    /// <summary>Starts the lab and the mesh; <paramref name="nodeArguments"/> go to every cache-node, <paramref name="driverArguments"/> to the driver.</summary>
    public static async Task<FaultMesh> StartAsync(ITestOutputHelper output, int members, int samples, int sampleSize, string[]? nodeArguments = null, string[]? driverArguments = null)
    {
        var lab = NetworkLab.Create(members);
        try
        {
            var peers = string.Join(',', Enumerable.Range(0, members).Select(r => $"{lab.Address(r)}:{Port}"));
            var environment = new Dictionary<string, string>
            {
                ["DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"] = "1",
                ["DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT"] = "1",
                ["DOTNET_TieredPGO"] = "0",
            };
            string[] NodeArguments(int rank) => [
                "exec", Path.Combine(AppContext.BaseDirectory, "cache-node.dll"), "--bind", lab.Address(rank), "--port", $"{Port}",
                "--peers", peers, "--rank", rank.ToString(CultureInfo.InvariantCulture), "--secret", Secret, "--capacity", "256mb",
                .. LogFolder is null ? Array.Empty<string>() : ["--log-level", "debug"], .. nodeArguments ?? []];
            var nodes = new Process[members - 1];
            for (var rank = 1; rank < members; rank++)
            {
                nodes[rank - 1] = lab.Start(rank, "dotnet", NodeArguments(rank), environment);
            }

            var driver = lab.Start(0, "dotnet", [
                "exec", Path.Combine(AppContext.BaseDirectory, "Cache.Tests.dll"), "fault-driver", "--members", peers, "--bind", lab.Address(0), "--port", $"{Port}",
                "--secret", Secret, "--samples", samples.ToString(CultureInfo.InvariantCulture), "--size", sampleSize.ToString(CultureInfo.InvariantCulture), .. driverArguments ?? []], environment);
            var mesh = new FaultMesh(lab, output, driver, nodes, NodeArguments, environment);
            foreach (var node in nodes)
            {
                Assert.Contains("ready", await ReadLineAsync(node) ?? "", StringComparison.Ordinal);

                Drain(node, Array.IndexOf(nodes, node) + 1);
            }

            _ = driver.StandardError.BaseStream.CopyToAsync(LogStream(0));
            Assert.Equal("ready", await ReadLineAsync(driver));
            return mesh;
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    }

    /// <summary>Asks the driver <paramref name="command"/> until the answer is <paramref name="expected"/>, for up to <paramref name="limit"/>; returns how long it took, or null.</summary>
    public async Task<TimeSpan?> AwaitAnswerAsync(string command, string expected, TimeSpan limit)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < limit)
        {
            if (await CommandAsync(command) == expected)
            {
                return watch.Elapsed;
            }

            // Real processes on the wall clock: the state is polled, a few times a second.
            await Task.Delay(100);
        }

        return null;
    }

    /// <summary>Starts member <paramref name="rank"/> again at its endpoint (after it was killed).</summary>
    public async Task RestartAsync(int rank)
    {
        var process = Lab.Start(rank, "dotnet", _nodeArguments(rank), _environment);
        _members[rank - 1] = process;
        Assert.Contains("ready", await ReadLineAsync(process) ?? "", StringComparison.Ordinal);
        Drain(process, rank);
    }

    /// <summary>A node logs to its console; unread, a full pipe would block it.</summary>
    private static void Drain(Process node, int rank)
    {
        _ = node.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
        _ = node.StandardError.BaseStream.CopyToAsync(LogStream(rank));
    }

    private static Stream LogStream(int rank) =>
        LogFolder is null ? Stream.Null : new FileStream(Path.Combine(LogFolder, $"rank{rank}-{DateTime.UtcNow:HHmmss.fff}.log"), FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 1);

    /// <summary>Sends a command to the driver and returns its one-line answer.</summary>
    public async Task<string> CommandAsync(string command)
    {
        await _driver.StandardInput.WriteLineAsync(command);
        await _driver.StandardInput.FlushAsync();
        return await ReadLineAsync(_driver) ?? throw new InvalidOperationException($"the driver ended during `{command}`");
    }

    /// <summary>Runs a command that answers with a report, and prints it.</summary>
    public async Task<DriverReport> ReportAsync(string label, string command)
    {
        var report = JsonSerializer.Deserialize<DriverReport>(await CommandAsync(command))!;
        _output.WriteLine($"{label}: {report}");
        return report;
    }

    public void Dispose()
    {
        try
        {
            if (!_driver.HasExited)
            {
                _driver.StandardInput.WriteLine("quit");
            }
        }
        catch (IOException)
        {
        }

        Lab.Dispose();
    }

    private static async Task<string?> ReadLineAsync(Process process)
    {
        using var timeout = new CancellationTokenSource(ReplyTimeout);
        return await process.StandardOutput.ReadLineAsync(timeout.Token);
    }
}
