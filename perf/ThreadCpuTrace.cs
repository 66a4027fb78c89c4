using System.Globalization;

namespace Perf;

/// <summary>
/// Opt-in diagnostics for the mesh epoch workers (<c>CACHE_PERF_THREADS=1</c>): the CPU time each thread of this
/// process used during an epoch, and its context switches, read from /proc (Linux only), written to standard error.
/// On a machine with fewer cores than spinning threads, the first epoch is CPU-bound, so this shows which threads
/// take time from the source's producers.
/// </summary>
internal sealed class ThreadCpuTrace
{
    private Dictionary<int, (string Name, long Ticks, long Voluntary, long Involuntary)> _before = Snapshot();
    private long _processBefore = ProcessTicks();

    public static bool Enabled { get; } = Environment.GetEnvironmentVariable("CACHE_PERF_THREADS") == "1" && Directory.Exists("/proc/self/task");

    /// <summary>Writes one line per thread that used CPU since the last call, then starts the next interval.</summary>
    public void Report(string label)
    {
        var now = Snapshot();
        var lines = new List<(long Ticks, string Text)>();
        long total = 0;
        foreach (var (tid, (name, ticks, voluntary, involuntary)) in now)
        {
            _before.TryGetValue(tid, out var was);
            var used = ticks - was.Ticks;
            var switches = (voluntary - was.Voluntary) + (involuntary - was.Involuntary);
            total += used;
            if (used > 0 || switches > 20)
            {
                lines.Add((used, string.Create(CultureInfo.InvariantCulture, $"  {name,-24} cpu {used * 10,6} ms  vol {voluntary - was.Voluntary,6}  invol {involuntary - was.Involuntary,6}")));
            }
        }

        // The process's own count includes threads that ended during the interval (the loader's workers end with the epoch).
        var process = ProcessTicks();
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[threads] rank {Environment.GetEnvironmentVariable("RANK")} {label}: {(process - _processBefore) * 10} ms cpu ({total * 10} ms in live threads), {now.Count} threads"));
        _processBefore = process;
        foreach (var (_, text) in lines.OrderByDescending(l => l.Ticks))
        {
            Console.Error.WriteLine(text);
        }

        _before = now;
    }

    private static long ProcessTicks()
    {
        try
        {
            var stat = File.ReadAllText("/proc/self/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static Dictionary<int, (string Name, long Ticks, long Voluntary, long Involuntary)> Snapshot()
    {
        var result = new Dictionary<int, (string, long, long, long)>();
        if (!Directory.Exists("/proc/self/task"))
        {
            return result;
        }

        foreach (var dir in Directory.GetDirectories("/proc/self/task"))
        {
            try
            {
                var tid = int.Parse(Path.GetFileName(dir), CultureInfo.InvariantCulture);
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var close = stat.LastIndexOf(')');
                var name = stat[(stat.IndexOf('(') + 1)..close];
                var fields = stat[(close + 2)..].Split(' ');

                // Fields after the name: state is [0]; utime and stime are the 14th and 15th of the line, [11] and [12] here.
                var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
                long voluntary = 0, involuntary = 0;
                foreach (var line in File.ReadLines(Path.Combine(dir, "status")))
                {
                    if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal))
                    {
                        voluntary = long.Parse(line.AsSpan(24).Trim(), CultureInfo.InvariantCulture);
                    }
                    else if (line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                    {
                        involuntary = long.Parse(line.AsSpan(27).Trim(), CultureInfo.InvariantCulture);
                    }
                }

                result[tid] = (name, ticks, voluntary, involuntary);
            }
            catch (IOException)
            {
                // The thread ended meanwhile.
            }
            catch (UnauthorizedAccessException)
            {
                // Not ours to read.
            }
        }

        return result;
    }
}
