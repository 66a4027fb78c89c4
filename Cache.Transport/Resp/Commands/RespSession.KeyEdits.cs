using Cache.Engine;

using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>TOUCH, RENAME, RENAMENX, COPY, EXPIRETIME and PEXPIRETIME, and the dispatch of the string commands added with them.</summary>
internal sealed partial class RespSession
{
    private void DispatchKeysAndStrings(in CommandArgs a, CommandDef command)
    {
        switch (command.Id)
        {
            case CommandId.Touch: Touch(a); break;
            case CommandId.Rename: Rename(a, onlyIfAbsent: false); break;
            case CommandId.RenameNx: Rename(a, onlyIfAbsent: true); break;
            case CommandId.Copy: Copy(a); break;
            case CommandId.ExpireTime: ExpireTime(a, 1000); break;
            case CommandId.PExpireTime: ExpireTime(a, 1); break;
            case CommandId.GetSet: GetSet(a); break;
            case CommandId.SetRange: SetRange(a); break;
            case CommandId.GetBit: GetBit(a); break;
            case CommandId.SetBit: SetBit(a); break;
            case CommandId.BitCount: BitCount(a); break;
            case CommandId.IncrByFloat: IncrByFloat(a); break;
            case CommandId.Lcs: Lcs(a); break;
            case CommandId.Substr: GetRange(a); break;
            default: UnknownCommand(a); break;
        }
    }

    private void Touch(in CommandArgs a)
    {
        long found = 0;
        for (var i = 1; i < a.Count; i++)
        {
            // A read: it counts as a hit and marks the key recently used, as Redis's TOUCH does.
            found += _store.TryRead(a[i], 0, static (_, _) => { }) ? 1 : 0;
        }

        _out.IntegerValue(found);
    }

    /// <summary>
    /// RENAME and RENAMENX. The destination is written before the source is removed, each step atomic on its
    /// own key: a reader in between sees both keys, never neither.
    /// </summary>
    private void Rename(in CommandArgs a, bool onlyIfAbsent)
    {
        if (!_store.TryGet(a[1], out var value) || !_store.TryGetExpiration(a[1], out var expiresAt))
        {
            _out.Error("ERR no such key");
            return;
        }

        if (a[1].SequenceEqual(a[2]))
        {
            if (onlyIfAbsent)
            {
                _out.IntegerValue(0);
            }
            else
            {
                _out.Ok();
            }

            return;
        }

        var result = _store.Set(a[2], value.Span, expiresAt, onlyIfAbsent ? SetCondition.IfAbsent : SetCondition.Always);
        if (result == SetResult.ConditionNotMet)
        {
            _out.IntegerValue(0);
            return;
        }

        if (!result.IsStored())
        {
            _out.Error(OutOfMemory);
            return;
        }

        _store.Remove(a[1]);
        if (onlyIfAbsent)
        {
            _out.IntegerValue(1);
        }
        else
        {
            _out.Ok();
        }
    }

    private void Copy(in CommandArgs a)
    {
        var replace = false;
        for (var i = 3; i < a.Count; i++)
        {
            if (a.Is(i, "REPLACE"u8))
            {
                replace = true;
            }
            else if (a.Is(i, "DB"u8) && i + 1 < a.Count)
            {
                if (!TryLong(a[++i], out var db))
                {
                    _out.Error(NotInteger);
                    return;
                }

                if (db != 0)
                {
                    _out.Error("ERR DB index is out of range");
                    return;
                }
            }
            else
            {
                _out.Error(SyntaxError);
                return;
            }
        }

        if (a[1].SequenceEqual(a[2]))
        {
            _out.Error("ERR source and destination objects are the same");
            return;
        }

        if (!_store.TryGet(a[1], out var value) || !_store.TryGetExpiration(a[1], out var expiresAt))
        {
            _out.IntegerValue(0);
            return;
        }

        var result = _store.Set(a[2], value.Span, expiresAt, replace ? SetCondition.Always : SetCondition.IfAbsent);
        if (result == SetResult.ConditionNotMet)
        {
            _out.IntegerValue(0);
        }
        else if (!result.IsStored())
        {
            _out.Error(OutOfMemory);
        }
        else
        {
            _out.IntegerValue(1);
        }
    }

    private void ExpireTime(in CommandArgs a, int unit)
    {
        if (!_store.TryGetExpiration(a[1], out var expiresAt))
        {
            _out.IntegerValue(-2);
        }
        else if (expiresAt == 0)
        {
            _out.IntegerValue(-1);
        }
        else
        {
            _out.IntegerValue(expiresAt / unit);
        }
    }
}
