namespace Cache.Dataset;

/// <summary>
/// A seeded permutation of <c>0..n-1</c> that is the same on every machine, runtime and version:
/// Fisher-Yates driven by SplitMix64, not <see cref="Random"/>, whose seeded sequence is not a contract.
/// </summary>
internal static class SamplePermutation
{
    public static long[] Create(long count, long seed)
    {
        var order = new long[count];
        for (long i = 0; i < count; i++)
        {
            order[i] = i;
        }

        var state = unchecked((ulong)seed);
        for (var i = count - 1; i > 0; i--)
        {
            var j = (long)Below(ref state, (ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }

        return order;
    }

    // Unbiased: draws again when the value falls in the incomplete last stripe of 2^64.
    private static ulong Below(ref ulong state, ulong bound)
    {
        var limit = ulong.MaxValue - (ulong.MaxValue % bound);
        ulong value;
        do
        {
            value = Next(ref state);
        }
        while (value >= limit);

        return value % bound;
    }

    private static ulong Next(ref ulong state)
    {
        unchecked
        {
            var z = state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
