namespace Cache.Transport.Resp;

/// <summary>
/// Redis's glob-style matching for KEYS, SCAN MATCH and CONFIG GET: <c>*</c>, <c>?</c>, <c>[abc]</c>,
/// <c>[^a]</c>, <c>[a-z]</c>, <c>\x</c>. Iterative, backtracking only to the last <c>*</c>, so a match takes
/// at most pattern length × text length steps whatever the pattern (a client cannot make it exponential).
/// Stateless; thread-safe.
/// </summary>
internal static class GlobPattern
{
    /// <summary>True when <paramref name="text"/> matches <paramref name="pattern"/>.</summary>
    public static bool IsMatch(ReadOnlySpan<byte> pattern, ReadOnlySpan<byte> text, bool ignoreCase = false) =>
        IsMatch(pattern, text, ignoreCase, out _);

    /// <summary>As <see cref="IsMatch(ReadOnlySpan{byte}, ReadOnlySpan{byte}, bool)"/>, counting the comparisons made: at most
    /// (pattern length + 1) x (text length + 1), whatever the stars (tests hold it to that instead of timing it).</summary>
    public static bool IsMatch(ReadOnlySpan<byte> pattern, ReadOnlySpan<byte> text, bool ignoreCase, out long steps)
    {
        steps = 0;
        var p = 0;
        var t = 0;
        var starP = -1;
        var starT = 0;
        while (t < text.Length)
        {
            steps++;
            if (p < pattern.Length && pattern[p] == (byte)'*')
            {
                starP = p++;
                starT = t;
                continue;
            }

            if (p < pattern.Length && MatchOne(pattern, p, text[t], ignoreCase, out var next))
            {
                p = next;
                t++;
                continue;
            }

            if (starP < 0)
            {
                return false;
            }

            // Let the last star swallow one more byte and try again from just after it.
            p = starP + 1;
            t = ++starT;
        }

        while (p < pattern.Length && pattern[p] == (byte)'*')
        {
            p++;
        }

        return p == pattern.Length;
    }

    /// <summary>Whether the pattern element at <paramref name="p"/> (not a star) matches <paramref name="c"/>; <paramref name="next"/> is the position after it.</summary>
    private static bool MatchOne(ReadOnlySpan<byte> pattern, int p, byte c, bool ignoreCase, out int next)
    {
        switch (pattern[p])
        {
            case (byte)'?':
                next = p + 1;
                return true;
            case (byte)'[':
            {
                p++;
                var not = p < pattern.Length && pattern[p] == (byte)'^';
                if (not)
                {
                    p++;
                }

                var matched = false;
                while (p < pattern.Length && pattern[p] != (byte)']')
                {
                    if (pattern[p] == (byte)'\\' && p + 1 < pattern.Length)
                    {
                        p++;
                        matched |= Same(pattern[p], c, ignoreCase);
                    }
                    else if (p + 2 < pattern.Length && pattern[p + 1] == (byte)'-' && pattern[p + 2] != (byte)']')
                    {
                        var low = Fold(pattern[p], ignoreCase);
                        var high = Fold(pattern[p + 2], ignoreCase);
                        if (low > high)
                        {
                            (low, high) = (high, low);
                        }

                        var folded = Fold(c, ignoreCase);
                        matched |= folded >= low && folded <= high;
                        p += 2;
                    }
                    else
                    {
                        matched |= Same(pattern[p], c, ignoreCase);
                    }

                    p++;
                }

                // p is at the closing ']' (or the end of an unterminated class, as Redis treats it).
                next = Math.Min(p + 1, pattern.Length);
                return not ? !matched : matched;
            }

            case (byte)'\\' when p + 1 < pattern.Length:
                next = p + 2;
                return Same(pattern[p + 1], c, ignoreCase);
            default:
                next = p + 1;
                return Same(pattern[p], c, ignoreCase);
        }
    }

    private static bool Same(byte a, byte b, bool ignoreCase) => Fold(a, ignoreCase) == Fold(b, ignoreCase);

    private static byte Fold(byte b, bool ignoreCase) => ignoreCase && b is >= (byte)'A' and <= (byte)'Z' ? (byte)(b + 32) : b;
}
