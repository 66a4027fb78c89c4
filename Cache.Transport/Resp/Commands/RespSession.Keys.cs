using System.Buffers.Text;
using Cache.Engine;
using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>Key-space commands.</summary>
internal sealed partial class RespSession
{
    private void Expire(in CommandArgs a, int unit, bool relative, string name)
    {
        if (!TryLong(a[2], out var amount))
        {
            _out.Error(NotInteger);
            return;
        }

        var condition = ExpireCondition.Always;
        bool nx = false, xx = false, gt = false, lt = false;
        for (var i = 3; i < a.Count; i++)
        {
            if (a.Is(i, "NX"u8))
            {
                nx = true;
            }
            else if (a.Is(i, "XX"u8))
            {
                xx = true;
            }
            else if (a.Is(i, "GT"u8))
            {
                gt = true;
            }
            else if (a.Is(i, "LT"u8))
            {
                lt = true;
            }
            else
            {
                _out.Error($"ERR Unsupported option {Shown(a[i])}");
                return;
            }
        }

        if (nx && (xx || gt || lt))
        {
            _out.Error("ERR NX and XX, GT or LT options at the same time are not compatible");
            return;
        }

        if (gt && lt)
        {
            _out.Error("ERR GT and LT options at the same time are not compatible");
            return;
        }

        condition = (nx ? ExpireCondition.IfNone : 0) | (xx ? ExpireCondition.IfAny : 0) | (gt ? ExpireCondition.IfGreater : 0) | (lt ? ExpireCondition.IfLess : 0);
        if (!TryExpiry(amount, unit, relative, out var expiresAt))
        {
            _out.Error($"ERR invalid expire time in '{name}' command");
            return;
        }

        // A time already past deletes the key (the store does that for any time up to now).
        var result = _store.UpdateExpiration(a[1], Math.Max(expiresAt, 1), condition);
        _out.IntegerValue(result == ExpireResult.Applied ? 1 : 0);
    }

    private void Ttl(in CommandArgs a, int unit)
    {
        if (!_store.TryGetExpiration(a[1], out var expiresAt))
        {
            _out.IntegerValue(-2);
            return;
        }

        if (expiresAt == 0)
        {
            _out.IntegerValue(-1);
            return;
        }

        var remaining = Math.Max(0, expiresAt - _store.NowUnixMs);
        _out.IntegerValue(unit == 1 ? remaining : (remaining + 500) / 1000);
    }

    private void Keys(in CommandArgs a)
    {
        // A scan of every key: off the connection's thread, with its own copy of the pattern.
        var pattern = a[1].ToArray();
        if (!OffLoop(() => WriteKeys(pattern)))
        {
            WriteKeys(pattern);
        }
    }

    private void WriteKeys(byte[] pattern)
    {
        var all = pattern.Length == 1 && pattern[0] == (byte)'*';
        var matches = new List<StoreKey>();
        var chunk = new List<StoreKey>();
        var cursor = 0;
        do
        {
            chunk.Clear();
            cursor = _store.Scan(cursor, 4096, chunk);
            foreach (var key in chunk)
            {
                if (all || GlobPattern.IsMatch(pattern, key.Span))
                {
                    matches.Add(key);
                }
            }
        }
        while (cursor != 0);

        _out.ArrayHeader(matches.Count);
        foreach (var key in matches)
        {
            _out.Bulk(key.Span);
            if (OutputOverLimit())
            {
                return;
            }
        }
    }

    private void Scan(in CommandArgs a)
    {
        // Redis's cursors are unsigned 64-bit numbers; ours are ring positions. One past every position
        // (a cursor some other server handed out, say) ends the iteration, as a cursor past the end does there.
        if (!Utf8Parser.TryParse(a[1], out ulong cursor, out var digits) || digits != a[1].Length)
        {
            _out.Error("ERR invalid cursor");
            return;
        }

        var count = 10L;
        var pattern = ReadOnlySpan<byte>.Empty;
        var hasPattern = false;
        var typeFilter = ReadOnlySpan<byte>.Empty;
        var hasType = false;
        for (var i = 2; i < a.Count; i++)
        {
            if (i + 1 >= a.Count)
            {
                _out.Error(SyntaxError);
                return;
            }

            if (a.Is(i, "COUNT"u8))
            {
                if (!TryLong(a[++i], out count))
                {
                    _out.Error(NotInteger);
                    return;
                }

                if (count < 1)
                {
                    _out.Error(SyntaxError);
                    return;
                }
            }
            else if (a.Is(i, "MATCH"u8))
            {
                pattern = a[++i];
                hasPattern = !(pattern.Length == 1 && pattern[0] == (byte)'*');
            }
            else if (a.Is(i, "TYPE"u8))
            {
                typeFilter = a[++i];
                hasType = true;
            }
            else
            {
                _out.Error(SyntaxError);
                return;
            }
        }

        var keys = new List<StoreKey>();
        var next = cursor > int.MaxValue ? 0 : _store.Scan((int)cursor, (int)Math.Min(count, 1 << 20), keys);

        // Every value here is a string: a TYPE filter for any other type matches nothing.
        var typeMatches = !hasType || (typeFilter.Length == 6 && GlobPattern.IsMatch("string"u8, typeFilter, ignoreCase: true));
        var shown = new List<StoreKey>(keys.Count);
        foreach (var key in keys)
        {
            if (typeMatches && (!hasPattern || GlobPattern.IsMatch(pattern, key.Span)))
            {
                shown.Add(key);
            }
        }

        _out.ArrayHeader(2);
        Span<byte> text = stackalloc byte[20];
        Utf8Formatter.TryFormat(next, text, out var written);
        _out.Bulk(text[..written]);
        _out.ArrayHeader(shown.Count);
        foreach (var key in shown)
        {
            _out.Bulk(key.Span);
        }
    }

    private void Flush(in CommandArgs a)
    {
        if (a.Count > 2 || (a.Count == 2 && !a.Is(1, "ASYNC"u8) && !a.Is(1, "SYNC"u8)))
        {
            _out.Error(SyntaxError);
            return;
        }

        // Removing every key: off the connection's thread too.
        if (!OffLoop(ClearAndReply))
        {
            ClearAndReply();
        }
    }

    private void ClearAndReply()
    {
        _store.Clear();
        _out.Ok();
    }

    /// <summary>
    /// Runs <paramref name="work"/>, a command that visits every key, on the thread pool rather than on the
    /// connection's thread: one socket event thread serves every connection of the node, peers' batched
    /// reads included, and a scan of millions of keys there would hold them all while it lasts. The
    /// connection waits for the work as for a forwarded command, so replies keep their order. False for
    /// the session that runs forwarded commands, whose reply must be written before Execute returns:
    /// the caller runs the work inline then.
    /// </summary>
    private bool OffLoop(Action work)
    {
        if (!_routes)
        {
            return false;
        }

        _pending = Task.Run(work);
        return true;
    }

    private void RandomKey()
    {
        var key = _store.RandomKey();
        if (key is null)
        {
            _out.Null();
        }
        else
        {
            _out.Bulk(key.Span);
        }
    }
}
