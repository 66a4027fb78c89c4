using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Order;
using Perfolizer.Horology;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Perf.Micro;

/// <summary>
/// Entry point: BenchmarkDotNet's switcher over every benchmark class here. By default every benchmark
/// runs a short job (5 warm-up and 15 measured iterations of at least 100 ms) in this process, so that <c>--filter '*'</c>
/// finishes in a few minutes on two shared cores: building BenchmarkDotNet's separate benchmark project
/// alone can outlast its two-minute build timeout on a loaded machine. <c>--full</c> runs BenchmarkDotNet's
/// default job instead, each benchmark in a process of its own (with a ten-minute build timeout). Other
/// arguments go to BenchmarkDotNet (<c>--filter</c>, <c>--list flat</c>, ...).
/// </summary>
public static class Program
{
    public static void Main(string[] args)
    {
        var full = args.Contains("--full");
        var job = full
            ? Job.Default
            : Job.Default.WithLaunchCount(1).WithWarmupCount(5).WithIterationCount(15)
                .WithMinIterationTime(TimeInterval.FromMilliseconds(100))
                .WithToolchain(InProcessEmitToolchain.Instance).WithId("Short");
        var config = DefaultConfig.Instance
            .AddJob(job.AsDefault())
            .WithBuildTimeout(TimeSpan.FromMinutes(10))
            .WithOptions(ConfigOptions.JoinSummary)
            .WithOrderer(new DefaultOrderer(SummaryOrderPolicy.Declared))
            .HideColumns("InvocationCount", "UnrollFactor");
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run([.. args.Where(a => a != "--full")], config);
    }
}
