using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;
using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>
/// The one-cache rule: on a mesh member, a plain connection (one that never asked for the cluster's layout)
/// gets answers for the whole mesh from the keyspace commands, as from a proxy. DBSIZE sums the members,
/// KEYS merges their keys, SCAN walks member after member with one cursor, RANDOMKEY picks a member by its
/// share of the keys, FLUSHDB and FLUSHALL flush every member (or fail naming the one that did not answer),
/// and INFO's keyspace counts the mesh beside the member's own keys. A cluster-aware connection (CLUSTER
/// SLOTS|SHARDS|NODES, READONLY, READWRITE) keeps Redis Cluster's per-node answers, so that a client that
/// sums over the nodes itself counts every key once.
/// </summary>
internal sealed partial class RespSession
{
    /// <summary>True for the keyspace commands another member may ask this one to answer for its own slots.</summary>
    public static bool IsKeyspaceWide(in CommandArgs a) =>
        CommandTable.TryLookup(a[0], out var command)
        && (command.Id is CommandId.DbSize or CommandId.Keys or CommandId.Scan or CommandId.RandomKey or CommandId.FlushDb or CommandId.FlushAll
            || (command.Id == CommandId.Info && a.Count == 2 && a.Is(1, "DATASETS"u8)));

    /// <summary>Answers a keyspace command for the whole mesh. False when the command is not one, or the connection is cluster-aware.</summary>
    private bool TryMeshWide(in CommandArgs a, CommandDef command, IMeshRouter mesh)
    {
        if (ClusterAware || !command.ArityOk(a.Count))
        {
            return false;
        }

        switch (command.Id)
        {
            case CommandId.DbSize:
                _pending = MeshDbSizeAsync(mesh);
                return true;
            case CommandId.Keys:
                _pending = MeshKeysAsync(mesh, Encode(a));
                return true;
            case CommandId.Scan:
                return MeshScan(a, mesh);
            case CommandId.RandomKey:
                _pending = MeshRandomKeyAsync(mesh);
                return true;
            case CommandId.FlushDb:
            case CommandId.FlushAll:
                if (a.Count > 2 || (a.Count == 2 && !a.Is(1, "ASYNC"u8) && !a.Is(1, "SYNC"u8)))
                {
                    return false;
                }

                _pending = MeshFlushAsync(mesh, Encode(a), command.Name.ToUpperInvariant());
                return true;
            case CommandId.Info:
                var sections = new List<string>(a.Count - 1);
                for (var i = 1; i < a.Count; i++)
                {
                    sections.Add(a.Text(i));
                }

                if (!InfoReport.Includes(sections, "keyspace") && !InfoReport.Includes(sections, "datasets"))
                {
                    return false;
                }

                _pending = MeshInfoAsync(mesh, sections);
                return true;
            default:
                return false;
        }
    }

    private byte[] Encode(in CommandArgs a)
    {
        var all = new int[a.Count];
        for (var i = 0; i < all.Length; i++)
        {
            all[i] = i;
        }

        return ForwardedCommand.Encode(_out.Protocol, a, all);
    }

    /// <summary>Runs an encoded keyspace command on every member (this one here), all at once. Replies in rank order; null for a member that did not answer.</summary>
    private async Task<byte[]?[]> OnEveryMemberAsync(IMeshRouter mesh, byte[] command)
    {
        var replies = new Task<byte[]?>[mesh.Endpoints.Count];
        for (var rank = 0; rank < replies.Length; rank++)
        {
            replies[rank] = OnMemberAsync(mesh, rank, command);
        }

        return await Task.WhenAll(replies).ConfigureAwait(false);
    }

    private Task<byte[]?> OnMemberAsync(IMeshRouter mesh, int rank, byte[] command)
    {
        if (rank == mesh.Rank)
        {
            // Off the event thread, as the node's own KEYS and FLUSHDB: a walk of millions of keys would hold every connection.
            return Task.Run(() => new CommandRunner(_server).TryRun(command, out var reply) ? reply.ToArray() : null);
        }

        return mesh.IsKnownDown(rank) ? Task.FromResult<byte[]?>(null) : mesh.ForwardAsync(rank, command);
    }

    /// <summary>Writes the error naming the first member that did not answer, or an owner's own error. True when there was one.</summary>
    private bool MemberFailed(IMeshRouter mesh, byte[]?[] replies, string command)
    {
        for (var rank = 0; rank < replies.Length; rank++)
        {
            if (replies[rank] is null)
            {
                _out.Error(string.Create(CultureInfo.InvariantCulture, $"CLUSTERDOWN {command} needs every member of the mesh, and {mesh.Endpoints[rank]} did not answer"));
                return true;
            }

            if (replies[rank]!.Length > 0 && replies[rank]![0] == (byte)'-')
            {
                _out.Output.Write(replies[rank]);
                return true;
            }
        }

        return false;
    }

    /// <summary>Every member's DBSIZE, or null (and the error written) when one did not answer.</summary>
    private async Task<long[]?> MemberCountsAsync(IMeshRouter mesh)
    {
        var replies = await OnEveryMemberAsync(mesh, ForwardedCommand.EncodeParts(_out.Protocol, "DBSIZE"u8.ToArray())).ConfigureAwait(false);
        if (MemberFailed(mesh, replies, "DBSIZE"))
        {
            return null;
        }

        var counts = new long[replies.Length];
        for (var rank = 0; rank < replies.Length; rank++)
        {
            if (!TryReadInteger(replies[rank], out counts[rank]))
            {
                _out.Error("ERR unexpected reply from a member of the mesh");
                return null;
            }
        }

        return counts;
    }

    private async Task MeshDbSizeAsync(IMeshRouter mesh)
    {
        if (await MemberCountsAsync(mesh).ConfigureAwait(false) is { } counts)
        {
            _out.IntegerValue(counts.Sum());
        }
    }

    private async Task MeshKeysAsync(IMeshRouter mesh, byte[] command)
    {
        var replies = await OnEveryMemberAsync(mesh, command).ConfigureAwait(false);
        if (MemberFailed(mesh, replies, "KEYS"))
        {
            return;
        }

        // Each reply is an array of bulk strings: one header for all, then every member's elements as they came.
        var total = 0L;
        var bodies = new List<(byte[] Reply, int Start)>();
        foreach (var reply in replies)
        {
            var line = reply.AsSpan().IndexOf("\r\n"u8);
            if (line < 1 || reply![0] != (byte)'*' || !RespParser.TryParseLong(reply.AsSpan(1, line - 1), out var count))
            {
                _out.Error("ERR unexpected reply from a member of the mesh");
                return;
            }

            total += count;
            bodies.Add((reply, line + 2));
        }

        _out.ArrayHeader((int)Math.Min(total, int.MaxValue));
        foreach (var (reply, start) in bodies)
        {
            _out.Output.Write(reply.AsSpan(start));
            if (OutputOverLimit())
            {
                return;
            }
        }
    }

    /// <summary>
    /// SCAN over every member with one cursor: cursor = member cursor x members + rank. A member's scan is
    /// Redis's (every key present throughout is returned once); the members are walked in rank order, each
    /// from 0 to its end, so the whole walk keeps the guarantee as long as no slot changes owner meanwhile.
    /// </summary>
    private bool MeshScan(in CommandArgs a, IMeshRouter mesh)
    {
        if (!Utf8Parser.TryParse(a[1], out ulong cursor, out var digits) || digits != a[1].Length)
        {
            // Invalid: the local SCAN replies with Redis's error.
            return false;
        }

        var members = (ulong)mesh.Endpoints.Count;
        var rank = (int)(cursor % members);
        var memberCursor = cursor / members;
        var args = new byte[a.Count][];
        for (var i = 0; i < a.Count; i++)
        {
            args[i] = a[i].ToArray();
        }

        args[1] = Encoding.ASCII.GetBytes(memberCursor.ToString(CultureInfo.InvariantCulture));
        _pending = MeshScanAsync(mesh, rank, members, ForwardedCommand.EncodeParts(_out.Protocol, args));
        return true;
    }

    private async Task MeshScanAsync(IMeshRouter mesh, int rank, ulong members, byte[] command)
    {
        var reply = await OnMemberAsync(mesh, rank, command).ConfigureAwait(false);
        if (reply is null)
        {
            _out.Error(string.Create(CultureInfo.InvariantCulture, $"CLUSTERDOWN SCAN needs every member of the mesh, and {mesh.Endpoints[rank]} did not answer"));
            return;
        }

        if (reply.Length > 0 && reply[0] == (byte)'-')
        {
            _out.Output.Write(reply);
            return;
        }

        // *2\r\n $n\r\n cursor\r\n then the keys' array, passed through.
        var span = reply.AsSpan();
        var header = span.IndexOf("\r\n"u8);
        if (header < 1 || span[0] != (byte)'*' || !TryElementLength(span[(header + 2)..], out var cursorLength))
        {
            _out.Error("ERR unexpected reply from a member of the mesh");
            return;
        }

        var cursorElement = span.Slice(header + 2, cursorLength);
        var cursorText = cursorElement[(cursorElement.IndexOf("\r\n"u8) + 2)..^2];
        if (!Utf8Parser.TryParse(cursorText, out ulong next, out _))
        {
            _out.Error("ERR unexpected reply from a member of the mesh");
            return;
        }

        // The member is done: go on with the next one from its start (the last one done: the walk is done).
        var combined = next != 0 ? (next * members) + (ulong)rank : (ulong)rank + 1 < members ? (ulong)rank + 1 : 0;
        _out.ArrayHeader(2);
        _out.Bulk(combined.ToString(CultureInfo.InvariantCulture));
        _out.Output.Write(span[(header + 2 + cursorLength)..]);
    }

    private async Task MeshRandomKeyAsync(IMeshRouter mesh)
    {
        if (await MemberCountsAsync(mesh).ConfigureAwait(false) is not { } counts)
        {
            return;
        }

        var total = counts.Sum();
        if (total == 0)
        {
            _out.Null();
            return;
        }

        // A member chosen by its share of the keys, then a key of its own: every key is equally likely.
        var pick = Random.Shared.NextInt64(total);
        var rank = 0;
        while (pick >= counts[rank])
        {
            pick -= counts[rank++];
        }

        var reply = await OnMemberAsync(mesh, rank, ForwardedCommand.EncodeParts(_out.Protocol, "RANDOMKEY"u8.ToArray())).ConfigureAwait(false);
        if (reply is null)
        {
            _out.Error(string.Create(CultureInfo.InvariantCulture, $"CLUSTERDOWN RANDOMKEY needs every member of the mesh, and {mesh.Endpoints[rank]} did not answer"));
            return;
        }

        _out.Output.Write(reply);
    }

    private async Task MeshFlushAsync(IMeshRouter mesh, byte[] command, string name)
    {
        // A member already known to be down fails the flush before any member is flushed.
        for (var rank = 0; rank < mesh.Endpoints.Count; rank++)
        {
            if (rank != mesh.Rank && mesh.IsKnownDown(rank))
            {
                _out.Error(string.Create(CultureInfo.InvariantCulture, $"CLUSTERDOWN {name} needs every member of the mesh, and {mesh.Endpoints[rank]} is down: nothing was flushed"));
                return;
            }
        }

        var replies = await OnEveryMemberAsync(mesh, command).ConfigureAwait(false);
        for (var rank = 0; rank < replies.Length; rank++)
        {
            if (replies[rank] is null)
            {
                _out.Error(string.Create(CultureInfo.InvariantCulture, $"CLUSTERDOWN {name} needs every member of the mesh, and {mesh.Endpoints[rank]} did not answer: the other members were flushed, it may not have been"));
                return;
            }
        }

        if (!MemberFailed(mesh, replies, name))
        {
            _out.Ok();
        }
    }

    private async Task MeshInfoAsync(IMeshRouter mesh, List<string> sections)
    {
        long? keys = null;
        if (InfoReport.Includes(sections, "keyspace"))
        {
            if (await MemberCountsAsync(mesh).ConfigureAwait(false) is not { } counts)
            {
                return;
            }

            keys = counts.Sum();
        }

        Dictionary<string, long>? datasets = null;
        if (InfoReport.Includes(sections, "datasets") && (datasets = await MeshDatasetsAsync(mesh).ConfigureAwait(false)) is null)
        {
            return;
        }

        _out.Verbatim(InfoReport.Build(_server, sections, keys, datasets));
    }

    /// <summary>Every dataset any member counts, with its keys summed over the members; null (and the error written) when one did not answer.</summary>
    private async Task<Dictionary<string, long>?> MeshDatasetsAsync(IMeshRouter mesh)
    {
        // Asked in RESP2 whatever this client speaks: the reply is a bulk string to read here, not to pass on.
        var replies = await OnEveryMemberAsync(mesh, ForwardedCommand.EncodeParts(2, "INFO"u8.ToArray(), "datasets"u8.ToArray())).ConfigureAwait(false);
        if (MemberFailed(mesh, replies, "INFO datasets"))
        {
            return null;
        }

        var totals = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var reply in replies)
        {
            if (!InfoReport.TryReadDatasets(reply!, totals))
            {
                _out.Error("ERR unexpected reply from a member of the mesh");
                return null;
            }
        }

        return totals;
    }
}
