using System.Globalization;

namespace Perf;

/// <summary>
/// Opt-in diagnostics for the mesh epoch workers (<c>CACHE_PERF_THREADS=1</c>): the CPU time each thread of this
/// process used during an epoch, and its context switches, read from /proc (Linux only), written to standard error.
/// On a machine with fewer cores than spinning threads, the first epoch is CPU-bound, so this shows which threads
/// take time from the source's producers. The trace compiles code of its own (file reads, dictionaries): with it on, the JIT
/// counts of the timed epochs include it.
/// </summary>
internal sealed class ThreadCpuTrace
{
    private Dictionary<int, (string Name, long Ticks, long Voluntary, long Involuntary)> _before = Snapshot();
    private long _processBefore = ProcessTicks();
    private long _jitMethodsBefore = System.Runtime.JitInfo.GetCompiledMethodCount();
    private TimeSpan _jitTimeBefore = System.Runtime.JitInfo.GetCompilationTime();

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
                lines.Add((used, string.Create(CultureInfo.InvariantCulture, $"  {name,-24} cpu {used / 10.0,8:F1} ms  vol {voluntary - was.Voluntary,6}  invol {involuntary - was.Involuntary,6}")));
            }
        }

        // The process's own count includes threads that ended during the interval (the loader's workers end with the epoch).
        var process = ProcessTicks();
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[threads] rank {Environment.GetEnvironmentVariable("RANK")} {label}: {(process - _processBefore) * 10} ms cpu ({total / 10.0:F1} ms in live threads), {now.Count} threads, {System.Runtime.JitInfo.GetCompiledMethodCount() - _jitMethodsBefore} methods compiled in {(System.Runtime.JitInfo.GetCompilationTime() - _jitTimeBefore).TotalMilliseconds:F1} ms, {System.Runtime.JitInfo.GetCompiledMethodCount()} in all"));
        _processBefore = process;
        _jitMethodsBefore = System.Runtime.JitInfo.GetCompiledMethodCount();
        _jitTimeBefore = System.Runtime.JitInfo.GetCompilationTime();
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
                // In units of 0.1 ms: the clock ticks of stat (10 ms) unless the kernel's schedstat is there.
                var ticks = (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) * 100;
                if (File.Exists(Path.Combine(dir, "schedstat")))
                {
                    // Nanoseconds on the CPU, where the kernel keeps them: the clock ticks of stat are 10 ms, too coarse for
                    // threads that wake for microseconds at a time.
                    ticks = long.Parse(File.ReadAllText(Path.Combine(dir, "schedstat")).Split(' ')[0], CultureInfo.InvariantCulture) / 100_000;
                }
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
