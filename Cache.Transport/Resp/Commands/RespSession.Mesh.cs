using System.Buffers;
using System.Globalization;
using Cache.Transport.Common;
using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>
/// Commands on a mesh node whose keys another member owns: forwarded to the owner over the peer
/// protocol, and MGET, MSET, DEL, UNLINK and EXISTS over several owners split per owner and merged, so
/// that a client that knows nothing of the mesh (plain redis-cli, a non-cluster client) sees one cache.
/// The owner's reply comes back as RESP in the client's protocol and is passed through untouched.
/// </summary>
internal sealed partial class RespSession
{
    private CommandRunner? _localRunner;
    private Task? _pending;

    /// <summary>The forwarded command in progress, if the last command was forwarded: the connection awaits it (it writes the reply) before it reads on, so replies keep their order.</summary>
    public Task? TakePending()
    {
        var pending = _pending;
        _pending = null;
        Holding = false;
        return pending;
    }

    /// <summary>True once the last command went to other members: its reply is written when <see cref="TakePending"/>'s task completes.</summary>
    public bool HasPending => _pending is not null;

    /// <summary>Sends the command to its keys' owner when that is another member. False when this node owns every key (run it here).</summary>
    private bool TryRoute(in CommandArgs a, CommandDef command, IMeshRouter mesh)
    {
        if (!KeyPositions(a, command, out var first, out var last, out var step))
        {
            return false;
        }

        var owner = mesh.Slots.OwnerOfKey(a[first]);
        var single = true;
        for (var i = first + step; i <= last && single; i += step)
        {
            single = mesh.Slots.OwnerOfKey(a[i]) == owner;
        }

        if (single)
        {
            if (owner == mesh.Rank)
            {
                return false;
            }

            var all = new int[a.Count];
            for (var i = 0; i < all.Length; i++)
            {
                all[i] = i;
            }

            if (OwnerKnownDown(mesh, owner))
            {
                return true;
            }

            _pending = PassThroughAsync(mesh.ForwardAsync(owner, ForwardedCommand.Encode(_out.Protocol, a, all)), mesh, owner);
            return true;
        }

        if (command.Id is CommandId.MGet or CommandId.MSet or CommandId.Del or CommandId.Unlink or CommandId.Exists)
        {
            Split(a, command, mesh, first, last, step);
        }
        else
        {
            _out.Error("CROSSSLOT Keys in request don't hash to the same slot");
        }

        return true;
    }

    /// <summary>True when <paramref name="a"/> is a known command with at least one key.</summary>
    public static bool HasKeys(in CommandArgs a) =>
        CommandTable.TryLookup(a[0], out var command) && command.ArityOk(a.Count) && KeyPositions(a, command, out _, out _, out _);

    /// <summary>Where the keys of <paramref name="a"/> are. False for a command without keys, and for one too malformed to route (it runs here and gets its usual error).</summary>
    private static bool KeyPositions(in CommandArgs a, CommandDef command, out int first, out int last, out int step)
    {
        first = command.FirstKey;
        step = Math.Max(command.Step, 1);
        last = 0;
        if (command.Id == CommandId.Memory)
        {
            // MEMORY USAGE key: the only subcommand with a key.
            first = last = 2;
            return a.Count >= 3 && a.Is(1, "USAGE"u8);
        }

        if (first == 0 || a.Count <= first || (command.Id is CommandId.MSet or CommandId.MSetNx && a.Count % 2 == 0))
        {
            return false;
        }

        last = command.LastKey < 0 ? a.Count + command.LastKey : Math.Min(command.LastKey, a.Count - 1);
        return true;
    }

    /// <summary>Splits a multi-key command into one command per owner (the local part runs now), and merges the replies once every owner has answered.</summary>
    private void Split(in CommandArgs a, CommandDef command, IMeshRouter mesh, int first, int last, int step)
    {
        var order = new List<int>();
        for (var i = first; i <= last; i += step)
        {
            order.Add(mesh.Slots.OwnerOfKey(a[i]));
        }

        // Each owner's command: the command name, then its keys (with their values, for MSET) in request order.
        var byOwner = new Dictionary<int, int[]>();
        foreach (var group in OwnerBatch.Group(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(order)))
        {
            var indices = new int[1 + (group.Indices.Length * (step == 2 ? 2 : 1))];
            var n = 1;
            foreach (var k in group.Indices)
            {
                var position = first + (k * step);
                indices[n++] = position;
                if (step == 2)
                {
                    indices[n++] = position + 1;
                }
            }

            byOwner[group.Owner] = indices;
        }

        var parts = new Dictionary<int, Task<byte[]?>>(byOwner.Count);
        foreach (var (owner, indices) in byOwner)
        {
            var encoded = ForwardedCommand.Encode(_out.Protocol, a, indices);
            if (owner == mesh.Rank)
            {
                _localRunner ??= new CommandRunner(_server);
                _localRunner.TryRun(encoded, out var reply);
                parts[owner] = Task.FromResult<byte[]?>(reply.ToArray());
            }
            else
            {
                parts[owner] = mesh.IsKnownDown(owner) ? Task.FromResult<byte[]?>(null) : mesh.ForwardAsync(owner, encoded);
            }
        }

        _pending = MergeAsync(command.Id, parts, order, mesh);
    }

    private async Task PassThroughAsync(Task<byte[]?> forwarded, IMeshRouter mesh, int owner)
    {
        var reply = await forwarded.ConfigureAwait(false);
        if (reply is null)
        {
            OwnerDown(mesh, owner);
            return;
        }

        _out.Output.Write(reply);
    }

    private async Task MergeAsync(CommandId id, Dictionary<int, Task<byte[]?>> parts, List<int> order, IMeshRouter mesh)
    {
        await Task.WhenAll(parts.Values).ConfigureAwait(false);
        foreach (var (owner, part) in parts)
        {
            var reply = part.Result;
            if (reply is null)
            {
                OwnerDown(mesh, owner);
                return;
            }

            if (reply.Length == 0)
            {
                _out.Error("ERR unexpected reply from the owner of a key");
                return;
            }

            if (reply[0] == (byte)'-')
            {
                // An owner's own error (out of memory, say) is the command's.
                _out.Output.Write(reply);
                return;
            }
        }

        switch (id)
        {
            case CommandId.MSet:
                _out.Ok();
                break;
            case CommandId.MGet:
                MergeArrays(parts, order);
                break;
            default:
                long sum = 0;
                foreach (var part in parts.Values)
                {
                    if (!TryReadInteger(part.Result!, out var n))
                    {
                        _out.Error("ERR unexpected reply from the owner of a key");
                        return;
                    }

                    sum += n;
                }

                _out.IntegerValue(sum);
                break;
        }
    }

    /// <summary>Writes MGET's reply: element by element, each taken in turn from its owner's array reply.</summary>
    private void MergeArrays(Dictionary<int, Task<byte[]?>> parts, List<int> order)
    {
        var cursors = new Dictionary<int, int>(parts.Count);
        foreach (var (owner, part) in parts)
        {
            // Skip the "*N\r\n" header.
            var reply = part.Result!;
            var header = reply.AsSpan().IndexOf("\r\n"u8);
            if (header < 1 || reply[0] != (byte)'*')
            {
                _out.Error("ERR unexpected reply from the owner of a key");
                return;
            }

            cursors[owner] = header + 2;
        }

        _out.ArrayHeader(order.Count);
        foreach (var owner in order)
        {
            var reply = parts[owner].Result!;
            var start = cursors[owner];
            if (!TryElementLength(reply.AsSpan(start), out var length))
            {
                // Cannot happen with a well-behaved owner; the client still gets a complete reply.
                _out.Null();
                continue;
            }

            _out.Output.Write(reply.AsSpan(start, length));
            cursors[owner] = start + length;
        }
    }

    /// <summary>The length of one bulk string or null element at the start of <paramref name="reply"/>.</summary>
    private static bool TryElementLength(ReadOnlySpan<byte> reply, out int length)
    {
        length = 0;
        var line = reply.IndexOf("\r\n"u8);
        if (line < 1)
        {
            return false;
        }

        if (reply[0] == (byte)'_')
        {
            length = line + 2;
            return true;
        }

        if (reply[0] != (byte)'$' || !RespParser.TryParseLong(reply[1..line], out var size) || size > reply.Length)
        {
            return false;
        }

        length = size < 0 ? line + 2 : line + 2 + (int)size + 2;
        return length <= reply.Length;
    }

    private static bool TryReadInteger(ReadOnlySpan<byte> reply, out long value)
    {
        value = 0;
        var line = reply.IndexOf("\r\n"u8);
        return line > 1 && reply[0] == (byte)':' && RespParser.TryParseLong(reply[1..line], out value);
    }

    /// <summary>True (and the error written) when the data path's circuit breaker already knows the owner is down: no need to wait for a connection attempt.</summary>
    private bool OwnerKnownDown(IMeshRouter mesh, int owner)
    {
        if (!mesh.IsKnownDown(owner))
        {
            return false;
        }

        OwnerDown(mesh, owner);
        return true;
    }

    private void OwnerDown(IMeshRouter mesh, int owner) =>
        _out.Error(string.Create(CultureInfo.InvariantCulture, $"CLUSTERDOWN the owner of these keys ({mesh.Endpoints[owner]}) did not answer; a write may or may not have been applied"));
}
