using System.Buffers.Text;
using Cache.Engine;
using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>String commands.</summary>
internal sealed partial class RespSession
{
    /// <summary>Keys of an MGET hinted to the store at a time.</summary>
    private const int HintWindow = 16;

    private void Get(in CommandArgs a)
    {
        // Copied straight from the store into the reply: no view of the store's bytes escapes, so later
        // writes of the same length may overwrite them in place.
        if (!_store.TryWriteValue<RespBulkFormat>(a[1], _out.Output))
        {
            _out.Null();
        }
    }

    private void Set(in CommandArgs a)
    {
        if (a.Count == 3)
        {
            ReplyStored(_store.Set(a[1], a[2]));
            return;
        }

        var condition = SetCondition.Always;
        var get = false;
        var expiresAt = 0L;
        var expirySeen = false;
        for (var i = 3; i < a.Count; i++)
        {
            var hasNext = i + 1 < a.Count;
            if (a.Is(i, "NX"u8) && condition != SetCondition.IfPresent)
            {
                condition = SetCondition.IfAbsent;
            }
            else if (a.Is(i, "XX"u8) && condition != SetCondition.IfAbsent)
            {
                condition = SetCondition.IfPresent;
            }
            else if (a.Is(i, "GET"u8))
            {
                get = true;
            }
            else if (a.Is(i, "KEEPTTL"u8) && !expirySeen)
            {
                expirySeen = true;
                expiresAt = BlockStore.KeepExpiration;
            }
            else if (!expirySeen && hasNext && (a.Is(i, "EX"u8) || a.Is(i, "PX"u8) || a.Is(i, "EXAT"u8) || a.Is(i, "PXAT"u8)))
            {
                expirySeen = true;
                var unit = a.Is(i, "EX"u8) || a.Is(i, "EXAT"u8) ? 1000 : 1;
                var relative = a.Is(i, "EX"u8) || a.Is(i, "PX"u8);
                if (!TryLong(a[++i], out var amount))
                {
                    _out.Error(NotInteger);
                    return;
                }

                if (!TryExpiry(amount, unit, relative, out expiresAt) || amount <= 0)
                {
                    _out.Error("ERR invalid expire time in 'set' command");
                    return;
                }
            }
            else
            {
                _out.Error(SyntaxError);
                return;
            }
        }

        if (!get)
        {
            var result = _store.Set(a[1], a[2], expiresAt, condition);
            if (result == SetResult.ConditionNotMet)
            {
                _out.Null();
            }
            else
            {
                ReplyStored(result);
            }

            return;
        }

        var outcome = _store.Set(a[1], a[2], expiresAt, condition, out var previous);
        if (outcome is SetResult.RejectedFull or SetResult.RejectedTooLarge)
        {
            _out.Error(OutOfMemory);
            return;
        }

        if (previous is { } old)
        {
            _out.Bulk(old.Span);
        }
        else
        {
            _out.Null();
        }
    }

    private void ReplyStored(SetResult result)
    {
        if (result.IsStored())
        {
            _out.Ok();
        }
        else
        {
            _out.Error(OutOfMemory);
        }
    }

    private void SetNx(in CommandArgs a)
    {
        var result = _store.Set(a[1], a[2], 0, SetCondition.IfAbsent);
        if (result is SetResult.RejectedFull or SetResult.RejectedTooLarge)
        {
            _out.Error(OutOfMemory);
            return;
        }

        _out.IntegerValue(result == SetResult.Added ? 1 : 0);
    }

    private void SetEx(in CommandArgs a, int unit, string name)
    {
        if (!TryLong(a[2], out var amount))
        {
            _out.Error(NotInteger);
            return;
        }

        if (amount <= 0 || !TryExpiry(amount, unit, relative: true, out var expiresAt))
        {
            _out.Error($"ERR invalid expire time in '{name}' command");
            return;
        }

        ReplyStored(_store.Set(a[1], a[3], expiresAt));
    }

    private void GetDel(in CommandArgs a)
    {
        if (_store.TryRemove(a[1], out var value))
        {
            _out.Bulk(value.Span);
        }
        else
        {
            _out.Null();
        }
    }

    private void GetEx(in CommandArgs a)
    {
        var expiresAt = BlockStore.KeepExpiration;
        if (a.Count > 2)
        {
            if (a.Count == 3 && a.Is(2, "PERSIST"u8))
            {
                expiresAt = 0;
            }
            else if (a.Count == 4 && (a.Is(2, "EX"u8) || a.Is(2, "PX"u8) || a.Is(2, "EXAT"u8) || a.Is(2, "PXAT"u8)))
            {
                var unit = a.Is(2, "EX"u8) || a.Is(2, "EXAT"u8) ? 1000 : 1;
                var relative = a.Is(2, "EX"u8) || a.Is(2, "PX"u8);
                if (!TryLong(a[3], out var amount))
                {
                    _out.Error(NotInteger);
                    return;
                }

                if (amount <= 0 || !TryExpiry(amount, unit, relative, out expiresAt))
                {
                    _out.Error("ERR invalid expire time in 'getex' command");
                    return;
                }
            }
            else
            {
                _out.Error(SyntaxError);
                return;
            }
        }

        if (_store.TryGetAndExpire(a[1], expiresAt, out var value))
        {
            _out.Bulk(value.Span);
        }
        else
        {
            _out.Null();
        }
    }

    private void MGet(in CommandArgs a)
    {
        _out.ArrayHeader(a.Count - 1);
        for (var i = 1; i < a.Count; i++)
        {
            if ((i - 1) % HintWindow == 0)
            {
                HintKeys(a, i, Math.Min(HintWindow, a.Count - i));
            }

            if (!_store.TryWriteValue<RespBulkFormat>(a[i], _out.Output))
            {
                _out.Null();
            }

            // A short command can ask for an enormous reply (the same large key a million times): stop
            // as soon as it passes the client's output limit.
            if (OutputOverLimit())
            {
                return;
            }
        }
    }

    /// <summary>Hints <paramref name="count"/> keys from argument <paramref name="first"/> on to the store, so that their lookups' cache misses overlap (see <see cref="BlockStore.Prefetch"/>).</summary>
    private void HintKeys(in CommandArgs a, int first, int count)
    {
        if (count < 2)
        {
            return;
        }

        Span<Range> keys = stackalloc Range[HintWindow];
        for (var j = 0; j < count; j++)
        {
            keys[j] = a.RangeOf(first + j);
        }

        _store.Prefetch(a.Source, keys[..count]);
    }

    private void MSet(in CommandArgs a, bool onlyIfNoneExist)
    {
        if (a.Count % 2 == 0)
        {
            WrongArity(onlyIfNoneExist ? "msetnx" : "mset");
            return;
        }

        var entries = new KeyValuePair<StoreKey, byte[]>[(a.Count - 1) / 2];
        for (var i = 0; i < entries.Length; i++)
        {
            entries[i] = new(StoreKey.Copy(a[1 + (2 * i)]), a[2 + (2 * i)].ToArray());
        }

        var results = new SetResult[entries.Length];
        var applied = _store.SetMany(entries, onlyIfNoneExist, results);
        if (applied && results.Any(r => !r.IsStored()))
        {
            _out.Error(OutOfMemory);
            return;
        }

        if (onlyIfNoneExist)
        {
            _out.IntegerValue(applied ? 1 : 0);
        }
        else
        {
            _out.Ok();
        }
    }

    private void Del(in CommandArgs a)
    {
        long removed = 0;
        for (var i = 1; i < a.Count; i++)
        {
            removed += _store.Remove(a[i]) ? 1 : 0;
        }

        _out.IntegerValue(removed);
    }

    private void Exists(in CommandArgs a)
    {
        long found = 0;
        for (var i = 1; i < a.Count; i++)
        {
            found += _store.ContainsKey(a[i]) ? 1 : 0;
        }

        _out.IntegerValue(found);
    }

    // STRLEN and GETRANGE read the value where it lies, without taking a view of it, so that later writes
    // of the same length can still overwrite it in place.
    private void StrLen(in CommandArgs a)
    {
        if (!_store.TryRead(a[1], _out, static (value, writer) => writer.IntegerValue(value.Length)))
        {
            _out.IntegerValue(0);
        }
    }

    private void GetRange(in CommandArgs a)
    {
        if (!TryLong(a[2], out var start) || !TryLong(a[3], out var end))
        {
            _out.Error(NotInteger);
            return;
        }

        if (!_store.TryRead(a[1], (_out, start, end), static (value, s) => s._out.Bulk(Range(value, s.start, s.end))))
        {
            _out.Bulk([]);
        }
    }

    /// <summary>The part of <paramref name="value"/> GETRANGE returns, by Redis 7's rules for negative and out-of-range indices.</summary>
    private static ReadOnlySpan<byte> Range(ReadOnlySpan<byte> value, long start, long end)
    {
        long length = value.Length;
        if (start < 0 && end < 0 && start > end)
        {
            return [];
        }

        if (start < 0)
        {
            start += length;
        }

        if (end < 0)
        {
            end += length;
        }

        start = Math.Max(start, 0);
        end = Math.Max(end, 0);
        if (end >= length)
        {
            end = length - 1;
        }

        return start > end || length == 0 ? [] : value.Slice((int)start, (int)(end - start + 1));
    }

    private struct AppendState
    {
        public byte[] Suffix;
        public long MaxLength;
        public long NewLength;
        public bool TooLong;
    }

    private void Append(in CommandArgs a)
    {
        var state = new AppendState { Suffix = a[2].ToArray(), MaxLength = _server.Limits.MaxBulkLength };
        var result = _store.Update(a[1], ref state, static (ReadOnlySpan<byte> current, bool exists, ref AppendState s) =>
        {
            if ((long)current.Length + s.Suffix.Length > s.MaxLength)
            {
                s.TooLong = true;
                return null;
            }

            var combined = GC.AllocateUninitializedArray<byte>(current.Length + s.Suffix.Length);
            current.CopyTo(combined);
            s.Suffix.CopyTo(combined.AsSpan(current.Length));
            s.NewLength = combined.Length;
            return combined;
        });
        if (state.TooLong)
        {
            _out.Error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        }
        else if (!result.IsStored())
        {
            _out.Error(OutOfMemory);
        }
        else
        {
            _out.IntegerValue(state.NewLength);
        }
    }

    private void IncrBy(in CommandArgs a, bool negate)
    {
        if (!TryLong(a[2], out var by))
        {
            _out.Error(NotInteger);
            return;
        }

        if (negate)
        {
            if (by == long.MinValue)
            {
                _out.Error("ERR decrement would overflow");
                return;
            }

            by = -by;
        }

        IncrBy(a[1], by);
    }

    private struct IncrState
    {
        public long By;
        public long Result;
        public string? Error;
    }

    private void IncrBy(ReadOnlySpan<byte> key, long by)
    {
        var state = new IncrState { By = by };
        var result = _store.Update(key, ref state, static (ReadOnlySpan<byte> current, bool exists, ref IncrState s) =>
        {
            long value = 0;
            if (exists && !RespParser.TryParseLong(current, out value))
            {
                s.Error = NotInteger;
                return null;
            }

            if ((s.By > 0 && value > long.MaxValue - s.By) || (s.By < 0 && value < long.MinValue - s.By))
            {
                s.Error = "ERR increment or decrement would overflow";
                return null;
            }

            s.Result = value + s.By;
            Span<byte> text = stackalloc byte[20];
            Utf8Formatter.TryFormat(s.Result, text, out var written);
            return text[..written].ToArray();
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
            _out.IntegerValue(state.Result);
        }
    }

    /// <summary>Turns a command's time argument into an absolute Unix-milliseconds expiration; false on overflow.</summary>
    private bool TryExpiry(long amount, int unit, bool relative, out long expiresAtUnixMs)
    {
        expiresAtUnixMs = 0;
        if (amount > long.MaxValue / unit || amount < long.MinValue / unit)
        {
            return false;
        }

        var ms = amount * unit;
        if (relative)
        {
            var now = _store.NowUnixMs;
            if (ms > long.MaxValue - now)
            {
                return false;
            }

            ms += now;
        }

        expiresAtUnixMs = ms;
        return true;
    }
}
