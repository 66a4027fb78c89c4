using System.Globalization;
using CsCheck;
using Xunit.Abstractions;

namespace Cache.Tests.Fuzz;

/// <summary>
/// Runs a property over generated cases with a fixed, printed seed, so that CI is deterministic and a
/// failure can be replayed. Each case is generated from its own PCG, derived from the run's seed and the
/// case's index; a failure names that case's seed, and <c>CACHE_FUZZ_CASE</c> replays just that case.
/// </summary>
/// <remarks>
/// Environment: <c>CACHE_FUZZ_SEED</c> (a number; default fixed, so CI runs the same cases every time),
/// <c>CACHE_FUZZ_SCALE</c> (multiplies every test's case budget; default 1; e.g. 100 for a long local run),
/// <c>CACHE_FUZZ_CASE</c> (a case seed printed by a failure: run only that case).
/// </remarks>
internal static class FuzzRun
{
    /// <summary>The seed CI uses when none is given.</summary>
    public const ulong DefaultSeed = 20261201;

    public static ulong Seed { get; } = ulong.TryParse(Environment.GetEnvironmentVariable("CACHE_FUZZ_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var s) ? s : DefaultSeed;

    public static int Scale { get; } = int.TryParse(Environment.GetEnvironmentVariable("CACHE_FUZZ_SCALE"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 1;

    private static string? Replay => Environment.GetEnvironmentVariable("CACHE_FUZZ_CASE") is { Length: > 0 } c ? c : null;

    /// <summary>Checks <paramref name="property"/> on <paramref name="cases"/> x scale generated values; prints the seed and the count.</summary>
    public static void Check<T>(ITestOutputHelper output, string name, Gen<T> gen, int cases, Action<T> property, Func<T, string>? describe = null)
    {
        // One stream per property, so that two tests with the same seed do not see the same values.
        var stream = (uint)StableHash(name);
        if (Replay is { } replay)
        {
            output.WriteLine($"{name}: replaying case {replay}");
            RunCase(PCG.Parse(replay), gen, property, describe, name, -1);
            return;
        }

        var total = checked(cases * Scale);
        output.WriteLine($"{name}: seed {Seed} (CACHE_FUZZ_SEED), {total} cases (CACHE_FUZZ_SCALE={Scale})");
        for (var i = 0; i < total; i++)
        {
            RunCase(new PCG(stream, Seed + ((ulong)i * 0x9E3779B97F4A7C15UL)), gen, property, describe, name, i);
        }
    }

    private static void RunCase<T>(PCG pcg, Gen<T> gen, Action<T> property, Func<T, string>? describe, string name, int index)
    {
        var caseSeed = pcg.ToString();
        var value = gen.Generate(pcg, null, out _);
        try
        {
            property(value);
        }
        catch (Exception ex)
        {
            var shown = describe?.Invoke(value) ?? string.Empty;
            throw new FuzzFailureException($"{name}: case {index} failed; replay with CACHE_FUZZ_CASE={caseSeed} (run seed {Seed}). {shown}", ex);
        }
    }

    private static int StableHash(string text)
    {
        var h = 17;
        foreach (var c in text)
        {
            h = unchecked((h * 31) + c);
        }

        return h;
    }
}

/// <summary>A generated case broke a property; the message says how to replay it.</summary>
internal sealed class FuzzFailureException(string message, Exception inner) : Exception(message, inner);
