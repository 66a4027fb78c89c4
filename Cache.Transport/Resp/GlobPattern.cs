namespace Cache.Transport.Resp;

/// <summary>Redis's glob-style matching for KEYS, SCAN MATCH and CONFIG GET: <c>*</c>, <c>?</c>, <c>[abc]</c>, <c>[^a]</c>, <c>[a-z]</c>, <c>\x</c>. Stateless; thread-safe.</summary>
internal static class GlobPattern
{
    /// <summary>True when <paramref name="text"/> matches <paramref name="pattern"/>.</summary>
    public static bool IsMatch(ReadOnlySpan<byte> pattern, ReadOnlySpan<byte> text, bool ignoreCase = false) =>
        Match(pattern, text, ignoreCase, depth: 0);

    private static bool Match(ReadOnlySpan<byte> pattern, ReadOnlySpan<byte> text, bool ignoreCase, int depth)
    {
        // Bounded recursion, as Redis bounds it, so a hostile pattern cannot exhaust the stack.
        if (depth > 1000)
        {
            return false;
        }

        var p = 0;
        var t = 0;
        while (p < pattern.Length)
        {
            switch (pattern[p])
            {
                case (byte)'*':
                    while (p + 1 < pattern.Length && pattern[p + 1] == (byte)'*')
                    {
                        p++;
                    }

                    if (p + 1 == pattern.Length)
                    {
                        return true;
                    }

                    for (var k = t; k <= text.Length; k++)
                    {
                        if (Match(pattern[(p + 1)..], text[k..], ignoreCase, depth + 1))
                        {
                            return true;
                        }
                    }

                    return false;
                case (byte)'?':
                    if (t >= text.Length)
                    {
                        return false;
                    }

                    t++;
                    break;
                case (byte)'[':
                {
                    if (t >= text.Length)
                    {
                        return false;
                    }

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
                            matched |= Same(pattern[p], text[t], ignoreCase);
                        }
                        else if (p + 2 < pattern.Length && pattern[p + 1] == (byte)'-' && pattern[p + 2] != (byte)']')
                        {
                            var low = Fold(pattern[p], ignoreCase);
                            var high = Fold(pattern[p + 2], ignoreCase);
                            if (low > high)
                            {
                                (low, high) = (high, low);
                            }

                            var c = Fold(text[t], ignoreCase);
                            matched |= c >= low && c <= high;
                            p += 2;
                        }
                        else
                        {
                            matched |= Same(pattern[p], text[t], ignoreCase);
                        }

                        p++;
                    }

                    if (not)
                    {
                        matched = !matched;
                    }

                    if (!matched)
                    {
                        return false;
                    }

                    t++;
                    break;
                }

                case (byte)'\\' when p + 1 < pattern.Length:
                    p++;
                    if (t >= text.Length || !Same(pattern[p], text[t], ignoreCase))
                    {
                        return false;
                    }

                    t++;
                    break;
                default:
                    if (t >= text.Length || !Same(pattern[p], text[t], ignoreCase))
                    {
                        return false;
                    }

                    t++;
                    break;
            }

            p++;
        }

        return t == text.Length;
    }

    private static bool Same(byte a, byte b, bool ignoreCase) => Fold(a, ignoreCase) == Fold(b, ignoreCase);

    private static byte Fold(byte b, bool ignoreCase) => ignoreCase && b is >= (byte)'A' and <= (byte)'Z' ? (byte)(b + 32) : b;
}
