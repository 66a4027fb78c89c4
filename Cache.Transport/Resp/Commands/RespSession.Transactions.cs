using Cache.Engine;

using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>
/// MULTI, EXEC, DISCARD, WATCH and UNWATCH with Redis's semantics: commands after MULTI are checked and
/// queued (a refused one makes EXEC fail with EXECABORT), EXEC runs them back to back and replies with
/// their replies, and a key WATCHed before MULTI that anyone changed, removed or that expired makes EXEC
/// reply with a null array. On a mesh, a transaction whose keys all belong to one other member runs there
/// as one unit; keys of several owners get Redis Cluster's CROSSSLOT.
/// </summary>
internal sealed partial class RespSession
{
    private const string CrossSlot = "CROSSSLOT Keys in request don't hash to the same slot";

    /// <summary>The queued commands (encoded as forwarded commands are) while in MULTI; null outside.</summary>
    private List<byte[]>? _queued;

    /// <summary>Set when a command was refused while queueing: EXEC must abort.</summary>
    private bool _queueFailed;

    /// <summary>True while EXEC runs the queued commands (they run here, inline, never queued or sent off the loop).</summary>
    private bool _inExec;

    private List<(byte[] Key, KeyVersion Version)>? _watched;

    /// <summary>True once a command that writes was queued (CLIENT PAUSE WRITE holds the EXEC).</summary>
    private bool _queuedWrite;

    /// <summary>True once a command that may grow the store was queued (EXEC is refused while the store is full).</summary>
    private bool _queuedDenyOom;

    /// <summary>
    /// True when the store cannot take even the smallest new key, as Redis's "used memory > maxmemory": under
    /// noeviction once the budget is spent, under any policy when the budget is below one key's charge.
    /// </summary>
    private bool StoreFull()
    {
        var smallest = BlockStore.IndexedChargeFor(1, 1);
        var capacity = _store.Capacity;
        return capacity < smallest || (_store.Policy == AdmissionPolicy.Retain && _store.BytesUsed + smallest > capacity);
    }

    /// <summary>Commands queued now; -1 outside a transaction (CLIENT LIST's <c>multi</c>).</summary>
    internal int QueuedCount => _queued?.Count ?? -1;

    /// <summary>True while WATCHing keys.</summary>
    internal bool Watching => _watched is { Count: > 0 };

    /// <summary>Marks the transaction failed after a command was refused while queueing (Redis's flagTransaction).</summary>
    private void FlagTransaction()
    {
        if (_queued is not null)
        {
            _queueFailed = true;
        }
    }

    private void Queue(in CommandArgs a, CommandDef command)
    {
        if (_routes && _server.Host.Router is { } mesh && KeyPositions(a, command, out var first, out var last, out var step))
        {
            var owner = mesh.Slots.OwnerOfKey(a[first]);
            for (var i = first + step; i <= last; i += step)
            {
                if (mesh.Slots.OwnerOfKey(a[i]) != owner)
                {
                    _server.Stats.Rejected(command.Id);
                    _queueFailed = true;
                    _out.Error(CrossSlot);
                    return;
                }
            }
        }

        if (command.DenyOom && StoreFull())
        {
            // Redis refuses a command that may grow memory when it is queued, as when it runs.
            _server.Stats.Rejected(command.Id);
            _queueFailed = true;
            _out.Error(OutOfMemory);
            return;
        }

        var all = new int[a.Count];
        for (var i = 0; i < all.Length; i++)
        {
            all[i] = i;
        }

        var encoded = ForwardedCommand.Encode(_out.Protocol, a, all);
        _queued!.Add(encoded);
        _queuedWrite |= command.IsWrite;
        _queuedDenyOom |= command.DenyOom;
        _client.Multi = _queued.Count;
        _client.MultiBytes += encoded.Length;
        _out.SimpleString("QUEUED"u8);
    }

    private void Multi()
    {
        if (_queued is not null)
        {
            _out.Error("ERR MULTI calls can not be nested");
            return;
        }

        _queued = [];
        _queueFailed = false;
        _queuedWrite = false;
        _queuedDenyOom = false;
        _client.Multi = 0;
        _client.MultiBytes = 0;
        _out.Ok();
    }

    private void Discard()
    {
        if (_queued is null)
        {
            _out.Error("ERR DISCARD without MULTI");
            return;
        }

        EndTransaction();
        _out.Ok();
    }

    private void EndTransaction()
    {
        _queued = null;
        _queueFailed = false;
        _queuedWrite = false;
        _queuedDenyOom = false;
        _watched = null;
        _client.Multi = -1;
        _client.MultiBytes = 0;
    }

    private void Watch(in CommandArgs a)
    {
        if (_queued is not null)
        {
            _out.Error("ERR WATCH inside MULTI is not allowed");
            return;
        }

        var mesh = _routes ? _server.Host.Router : null;
        _watched ??= [];
        for (var i = 1; i < a.Count; i++)
        {
            if (mesh is not null && mesh.Slots.OwnerOfKey(a[i]) != mesh.Rank)
            {
                // A version is an identity in the owner's memory: it cannot be taken from here.
                _out.Error("ERR WATCH of a key another member of the mesh owns is not supported: WATCH it on its owner (CLUSTER SLOTS tells which)");
                return;
            }
        }

        for (var i = 1; i < a.Count; i++)
        {
            _watched.Add((a[i].ToArray(), _store.GetVersion(a[i])));
        }

        _out.Ok();
    }

    private void Unwatch()
    {
        _watched = null;
        _out.Ok();
    }

    /// <summary>True when a watched key changed since WATCH.</summary>
    private bool WatchedKeyChanged()
    {
        if (_watched is null)
        {
            return false;
        }

        foreach (var (key, version) in _watched)
        {
            if (_store.GetVersion(key) != version)
            {
                return true;
            }
        }

        return false;
    }

    private void Exec()
    {
        if (_queued is not null && _queueFailed)
        {
            EndTransaction();
            _out.Error("EXECABORT Transaction discarded because of previous errors.");
            return;
        }

        if (_queued is null)
        {
            _out.Error("ERR EXEC without MULTI");
            return;
        }

        if (_queuedDenyOom && StoreFull())
        {
            EndTransaction();
            _out.Error("EXECABORT Transaction discarded because of: " + OutOfMemory);
            return;
        }

        var queued = _queued;
        var owner = -1;
        if (_routes && _server.Host.Router is { } mesh)
        {
            owner = OwnerOfTransaction(queued, mesh);
            if (owner == -2)
            {
                EndTransaction();
                _out.Error("EXECABORT Transaction discarded because of: " + CrossSlot);
                return;
            }

            if (owner >= 0 && owner != mesh.Rank && Watching)
            {
                // The watched keys are this member's, the commands' keys another's.
                EndTransaction();
                _out.Error("EXECABORT Transaction discarded because of: " + CrossSlot);
                return;
            }

            if (owner >= 0 && owner != mesh.Rank)
            {
                EndTransaction();
                if (!OwnerKnownDown(mesh, owner))
                {
                    var payload = ForwardedCommand.EncodeTransaction(_out.Protocol, queued);
                    _pending = PassThroughAsync(mesh.ForwardAsync(owner, payload), mesh, owner);
                }

                return;
            }
        }

        if (WatchedKeyChanged())
        {
            EndTransaction();
            _out.NullArray();
            return;
        }

        EndTransaction();
        RunQueued(queued);
    }

    /// <summary>Runs queued commands here, replying with an array of their replies.</summary>
    internal void RunQueued(IReadOnlyList<byte[]> queued)
    {
        _out.ArrayHeader(queued.Count);
        var ranges = new ArgRange[8];
        _inExec = true;
        try
        {
            foreach (var encoded in queued)
            {
                if (!ForwardedCommand.TryDecode(encoded, int.MaxValue, ref ranges, out _, out var count))
                {
                    _out.Error("ERR malformed queued command");
                    continue;
                }

                Execute(new CommandArgs(encoded, ranges.AsSpan(0, count)));
                if (OutputOverflowed)
                {
                    return;
                }
            }
        }
        finally
        {
            _inExec = false;
        }
    }

    /// <summary>The one member that owns every key of the queued commands: -1 when they have no keys, -2 when several members own them.</summary>
    private static int OwnerOfTransaction(List<byte[]> queued, IMeshRouter mesh)
    {
        var owner = -1;
        var ranges = new ArgRange[8];
        foreach (var encoded in queued)
        {
            if (!ForwardedCommand.TryDecode(encoded, int.MaxValue, ref ranges, out _, out var count))
            {
                continue;
            }

            var a = new CommandArgs(encoded, ranges.AsSpan(0, count));
            if (!CommandTable.TryLookup(a[0], out var command) || !KeyPositions(a, command, out var first, out var last, out var step))
            {
                continue;
            }

            for (var i = first; i <= last; i += step)
            {
                var o = mesh.Slots.OwnerOfKey(a[i]);
                if (owner == -1)
                {
                    owner = o;
                }
                else if (o != owner)
                {
                    return -2;
                }
            }
        }

        return owner;
    }
}
