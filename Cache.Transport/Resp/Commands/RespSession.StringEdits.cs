using System.Globalization;
using System.Text;
using Cache.Engine;

using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>GETSET, INCRBYFLOAT and LCS.</summary>
internal sealed partial class RespSession
{
    private const string NotFloat = "ERR value is not a valid float";

    private void GetSet(in CommandArgs a)
    {
        // SET key value GET: the expiration goes, as with SET.
        var result = _store.Set(a[1], a[2], 0, SetCondition.Always, out var previous);
        if (!result.IsStored())
        {
            _out.Error(OutOfMemory);
        }
        else if (previous is { } old)
        {
            _out.Bulk(old.Span);
        }
        else
        {
            _out.Null();
        }
    }

    private struct FloatState
    {
        public string Increment;
        public string? Result;
        public string? Error;
    }

    private void IncrByFloat(in CommandArgs a)
    {
        if (!TryParseFloat(a[2], out _, out _))
        {
            _out.Error(NotFloat);
            return;
        }

        var state = new FloatState { Increment = Encoding.ASCII.GetString(a[2]) };
        var result = _store.Update(a[1], ref state, static (ReadOnlySpan<byte> current, bool exists, ref FloatState s) =>
        {
            var by = Encoding.ASCII.GetBytes(s.Increment);
            if (!TryParseFloat(exists ? current : "0"u8, out var baseDecimal, out var baseDouble) || !TryParseFloat(by, out var byDecimal, out var byDouble))
            {
                s.Error = NotFloat;
                return null;
            }

            s.Result = Add(baseDecimal, byDecimal, baseDouble, byDouble);
            if (s.Result is null)
            {
                s.Error = "ERR increment would produce NaN or Infinity";
                return null;
            }

            return Encoding.ASCII.GetBytes(s.Result);
        });
        if (state.Error is not null)
        {
            _out.Error(state.Error);
        }
        else if (!result.IsStored())
        {
            _out.Error(OutOfMemory);
        }
        else
        {
            _out.Bulk(state.Result!);
        }
    }

    /// <summary>
    /// A float as Redis's INCRBYFLOAT reads one (no spaces, at most 5000 characters, not NaN). Where it fits, it
    /// is also read as a decimal: Redis adds in long double and prints 17 digits, so 1 + -1.1 shows as -0.1; a
    /// decimal sum gives the same text, a double sum would show -0.10000000000000009.
    /// </summary>
    private static bool TryParseFloat(ReadOnlySpan<byte> text, out decimal? asDecimal, out double asDouble)
    {
        asDecimal = null;
        asDouble = 0;
        if (text.IsEmpty || text.Length > 5000)
        {
            return false;
        }

        var s = Encoding.ASCII.GetString(text);
        const NumberStyles Style = NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent;
        switch (s.ToLowerInvariant())
        {
            case "inf" or "+inf" or "infinity" or "+infinity":
                asDouble = double.PositiveInfinity;
                return true;
            case "-inf" or "-infinity":
                asDouble = double.NegativeInfinity;
                return true;
        }

        if (!double.TryParse(s, Style, CultureInfo.InvariantCulture, out asDouble) || double.IsNaN(asDouble))
        {
            return false;
        }

        if (decimal.TryParse(s, Style, CultureInfo.InvariantCulture, out var d))
        {
            asDecimal = d;
        }

        return true;
    }

    /// <summary>The sum as Redis prints it (no exponent, no trailing zeros); null when it is not finite.</summary>
    private static string? Add(decimal? a, decimal? b, double aDouble, double bDouble)
    {
        if (a is { } x && b is { } y)
        {
            try
            {
                var sum = x + y;
                var text = sum.ToString(CultureInfo.InvariantCulture);
                if (text.Contains('.', StringComparison.Ordinal))
                {
                    text = text.TrimEnd('0').TrimEnd('.');
                }

                return text == "-0" ? "0" : text;
            }
            catch (OverflowException)
            {
            }
        }

        var value = aDouble + bDouble;
        if (!double.IsFinite(value))
        {
            return null;
        }

        var shortest = value.ToString("R", CultureInfo.InvariantCulture);
        return shortest.Contains('E', StringComparison.Ordinal) ? value.ToString("0.#################", CultureInfo.InvariantCulture) : shortest;
    }

    private void Lcs(in CommandArgs a)
    {
        bool wantLength = false, wantIndexes = false, withMatchLength = false;
        long minMatch = 0;
        for (var i = 3; i < a.Count; i++)
        {
            if (a.Is(i, "IDX"u8))
            {
                wantIndexes = true;
            }
            else if (a.Is(i, "LEN"u8))
            {
                wantLength = true;
            }
            else if (a.Is(i, "WITHMATCHLEN"u8))
            {
                withMatchLength = true;
            }
            else if (a.Is(i, "MINMATCHLEN"u8) && i + 1 < a.Count)
            {
                if (!TryLong(a[++i], out minMatch))
                {
                    _out.Error(NotInteger);
                    return;
                }

                minMatch = Math.Max(minMatch, 0);
            }
            else
            {
                _out.Error(SyntaxError);
                return;
            }
        }

        if (wantLength && wantIndexes)
        {
            _out.Error("ERR If you want both the length and indexes, please just use IDX.");
            return;
        }

        var x = _store.TryGet(a[1], out var first) ? first.Span : [];
        var y = _store.TryGet(a[2], out var second) ? second.Span : [];
        var cells = (long)(x.Length + 1) * (y.Length + 1);
        if (cells * sizeof(uint) > _server.Limits.MaxBulkLength || cells > Array.MaxLength)
        {
            _out.Error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
            return;
        }

        // table[i, j]: the length of the LCS of x[..i] and y[..j].
        var width = y.Length + 1;
        var table = new uint[cells];
        for (var i = 1; i <= x.Length; i++)
        {
            for (var j = 1; j <= y.Length; j++)
            {
                table[(i * width) + j] = x[i - 1] == y[j - 1]
                    ? table[((i - 1) * width) + j - 1] + 1
                    : Math.Max(table[((i - 1) * width) + j], table[(i * width) + j - 1]);
            }
        }

        var length = (int)table[(x.Length * width) + y.Length];
        if (wantLength)
        {
            _out.IntegerValue(length);
            return;
        }

        // Walk back from the end: the common bytes come out last first, and, for IDX, the ranges where both
        // strings match contiguously, each reported once it can grow no further.
        var common = new byte[length];
        var ranges = new List<(int AStart, int AEnd, int BStart, int BEnd)>();
        int ai = x.Length, bj = y.Length, next = length;
        int aStart = -1, aEnd = 0, bStart = 0, bEnd = 0;
        while (ai > 0 && bj > 0)
        {
            var emit = false;
            if (x[ai - 1] == y[bj - 1])
            {
                common[--next] = x[ai - 1];
                if (aStart < 0)
                {
                    aStart = aEnd = ai - 1;
                    bStart = bEnd = bj - 1;
                }
                else if (aStart == ai && bStart == bj)
                {
                    aStart--;
                    bStart--;
                }
                else
                {
                    emit = true;
                }

                emit |= aStart == 0 || bStart == 0;
                ai--;
                bj--;
            }
            else
            {
                if (table[((ai - 1) * width) + bj] > table[(ai * width) + bj - 1])
                {
                    ai--;
                }
                else
                {
                    bj--;
                }

                emit = aStart >= 0;
            }

            if (emit)
            {
                if (minMatch == 0 || aEnd - aStart + 1 >= minMatch)
                {
                    ranges.Add((aStart, aEnd, bStart, bEnd));
                }

                aStart = -1;
            }
        }

        if (!wantIndexes)
        {
            _out.Bulk(common);
            return;
        }

        _out.MapHeader(2);
        _out.Bulk("matches");
        _out.ArrayHeader(ranges.Count);
        foreach (var (s1, e1, s2, e2) in ranges)
        {
            _out.ArrayHeader(withMatchLength ? 3 : 2);
            _out.ArrayHeader(2);
            _out.IntegerValue(s1);
            _out.IntegerValue(e1);
            _out.ArrayHeader(2);
            _out.IntegerValue(s2);
            _out.IntegerValue(e2);
            if (withMatchLength)
            {
                _out.IntegerValue(e1 - s1 + 1);
            }
        }

        _out.Bulk("len");
        _out.IntegerValue(length);
    }
}
