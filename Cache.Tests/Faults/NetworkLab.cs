using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Cache.Tests.Faults;

/// <summary>
/// A private network on this machine for fault tests: one "switch" namespace holding a bridge, and one
/// namespace per member joined to it by a veth pair, each member at 10.213.{subnet}.{rank + 1}. The host
/// namespace gets no address and no rule, so traffic flows only between the namespaces made here. Faults are
/// injected inside one member's namespace (iptables, tc), or on its process (SIGSTOP, kill). Dispose deletes
/// every namespace (which takes their links, rules and qdiscs with them) and kills every process started; a
/// sweep at creation removes what an earlier run that died left behind. Names carry the creating process's
/// id, so concurrent runs never touch each other's. Not thread-safe.
/// </summary>
internal sealed class NetworkLab : IDisposable
{
    private const string Prefix = "cft";
    private static int s_labs;
    private readonly List<Process> _processes = [];
    private readonly List<string> _namespaces = [];
    private bool _disposed;

    private NetworkLab(int members)
    {
        var n = Interlocked.Increment(ref s_labs);
        Name = $"{Prefix}{Environment.ProcessId}x{n}";
        Subnet = 1 + ((Environment.ProcessId * 7 + n) % 250);
        Members = members;
    }

    /// <summary>Why the lab cannot run here (null: it can): namespaces need Linux, root and iproute2; faults need iptables and tc.</summary>
    public static string? SkipReason { get; } = FindSkipReason();

    /// <summary>The prefix of every namespace of this lab.</summary>
    public string Name { get; }

    public int Subnet { get; }

    public int Members { get; }

    public string Switch => $"{Name}sw";

    public string Namespace(int rank) => $"{Name}n{rank}";

    public string Address(int rank) => $"10.213.{Subnet}.{rank + 1}";

    /// <summary>Creates the switch and <paramref name="members"/> member namespaces, all links up.</summary>
    public static NetworkLab Create(int members)
    {
        Sweep();
        var lab = new NetworkLab(members);
        try
        {
            lab.AddNamespace(lab.Switch);
            Run("ip", $"-n {lab.Switch} link add br0 type bridge");
            Run("ip", $"-n {lab.Switch} link set br0 up");
            for (var rank = 0; rank < members; rank++)
            {
                var ns = lab.Namespace(rank);
                lab.AddNamespace(ns);
                Run("ip", $"-n {lab.Switch} link add v{rank} type veth peer name eth0 netns {ns}");
                Run("ip", $"-n {lab.Switch} link set v{rank} master br0 up");
                Run("ip", $"-n {ns} addr add {lab.Address(rank)}/24 dev eth0");
                Run("ip", $"-n {ns} link set eth0 up");
                Run("ip", $"-n {ns} link set lo up");
            }

            return lab;
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    }

    /// <summary>Starts a process inside a member's namespace; it is killed at Dispose if still running.</summary>
    public Process Start(int rank, string file, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var arg in (string[])["netns", "exec", Namespace(rank), file, .. arguments])
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        // `ip netns exec` execs the command in place: the process id is the member's own, so signals reach it.
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        _processes.Add(process);
        return process;
    }

    /// <summary>Drops every packet in and out of a member (its loopback spared): a partition.</summary>
    public void Partition(int rank)
    {
        Run("ip", $"netns exec {Namespace(rank)} iptables -A INPUT -i eth0 -j DROP");
        Run("ip", $"netns exec {Namespace(rank)} iptables -A OUTPUT -o eth0 -j DROP");
    }

    /// <summary>Drops a random share of the packets a member sends (iptables' statistic match). Applied to every member, each packet meets the filter once.</summary>
    public void Loss(int rank, double probability)
    {
        var p = probability.ToString("0.####", CultureInfo.InvariantCulture);
        Run("ip", $"netns exec {Namespace(rank)} iptables -A OUTPUT -o eth0 -m statistic --mode random --probability {p} -j DROP");
    }

    /// <summary>Removes every rule made by <see cref="Partition"/> or <see cref="Loss"/> in a member's namespace.</summary>
    public void Heal(int rank)
    {
        Run("ip", $"netns exec {Namespace(rank)} iptables -F INPUT");
        Run("ip", $"netns exec {Namespace(rank)} iptables -F OUTPUT");
    }

    /// <summary>
    /// Limits what a member sends to <paramref name="megabitsPerSecond"/> with a token bucket (tc tbf; netem is not
    /// in this kernel). The queue holds half a second of traffic, as a slow link's buffers do: a shallow one would
    /// drop packets and make this the loss case (which <see cref="Loss"/> covers on its own).
    /// </summary>
    public void RateLimit(int rank, int megabitsPerSecond) =>
        Run("ip", $"netns exec {Namespace(rank)} tc qdisc replace dev eth0 root tbf rate {megabitsPerSecond}mbit burst 256kb latency 500ms");

    /// <summary>Stops (SIGSTOP) or continues (SIGCONT) a process.</summary>
    public static void Signal(Process process, bool stop) => Run("kill", $"-{(stop ? "STOP" : "CONT")} {process.Id}");

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var process in _processes)
        {
            try
            {
                if (!process.HasExited)
                {
                    // A stopped process would not die of SIGTERM; SIGKILL needs no cooperation.
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(10_000);
                }
            }
            catch (InvalidOperationException)
            {
            }
            finally
            {
                process.Dispose();
            }
        }

        foreach (var ns in Enumerable.Reverse(_namespaces))
        {
            TryRun("ip", $"netns del {ns}");
        }
    }

    /// <summary>Deletes namespaces of labs whose creating process is gone (a test run that crashed before its Dispose).</summary>
    public static void Sweep()
    {
        var (ok, list) = TryRun("ip", "netns list");
        if (!ok)
        {
            return;
        }

        foreach (var line in list.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var ns = line.Split(' ')[0];
            if (!ns.StartsWith(Prefix, StringComparison.Ordinal))
            {
                continue;
            }

            var digits = ns[Prefix.Length..].Split('x')[0];
            if (int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}"))
            {
                TryRun("ip", $"netns del {ns}");
            }
        }
    }

    private void AddNamespace(string ns)
    {
        Run("ip", $"netns add {ns}");
        _namespaces.Add(ns);
    }

    private static string Run(string file, string arguments)
    {
        var (ok, output) = TryRun(file, arguments);
        return ok ? output : throw new InvalidOperationException($"`{file} {arguments}` failed: {output}");
    }

    private static (bool Ok, string Output) TryRun(string file, string arguments)
    {
        try
        {
            var info = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEnd();
            if (!process.WaitForExit(30_000))
            {
                process.Kill();
                return (false, "timed out");
            }

            return (process.ExitCode == 0, stdout.Result + stderr);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return (false, ex.Message);
        }
    }

    private static string? FindSkipReason()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "network namespaces are Linux's";
        }

        if (!string.Equals(Environment.UserName, "root", StringComparison.Ordinal))
        {
            return "network namespaces need root (CI runs as root)";
        }

        foreach (var tool in new[] { "ip", "iptables", "tc" })
        {
            if (!TryRun(tool, "-V").Ok && !TryRun(tool, "-Version").Ok)
            {
                return $"`{tool}` is missing (Debian: apt-get install iproute2 iptables; .ci/run installs them)";
            }
        }

        var probe = $"{Prefix}{Environment.ProcessId}probe";
        var (ok, output) = TryRun("ip", $"netns add {probe}");
        if (!ok)
        {
            return $"cannot create a network namespace here: {output.Trim()}";
        }

        var (rules, text) = TryRun("ip", $"netns exec {probe} iptables -S");
        TryRun("ip", $"netns del {probe}");
        return rules ? null : $"iptables does not work inside a namespace here: {text.Trim()}";
    }
}

/// <summary>A fact that needs <see cref="NetworkLab"/>: skipped, with the reason, where namespaces cannot be made.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class NetworkLabFactAttribute : FactAttribute
{
    public NetworkLabFactAttribute()
    {
        if (NetworkLab.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}
