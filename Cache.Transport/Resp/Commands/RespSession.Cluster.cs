using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Cache.Engine;
using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>CLUSTER commands: the mesh's real layout, so that cluster-aware clients send each key to its owner.</summary>
internal sealed partial class RespSession
{
    private void ClusterCommand(in CommandArgs a)
    {
        if (a.Is(1, "KEYSLOT"u8) && a.Count == 3)
        {
            _out.IntegerValue(HashSlot.GetSlot(a[2]));
            return;
        }

        var mesh = _server.Host.Router;
        if (mesh is null)
        {
            _out.Error("ERR This instance has cluster support disabled");
            return;
        }

        // A client that reads the layout routes and sums by itself: from now on it gets per-node answers.
        if (a.Is(1, "SLOTS"u8) || a.Is(1, "SHARDS"u8) || a.Is(1, "NODES"u8))
        {
            ClusterAware = true;
        }

        var members = Members(mesh);
        if (a.Is(1, "MYID"u8) && a.Count == 2)
        {
            _out.Bulk(members[mesh.Rank].Id);
        }
        else if (a.Is(1, "INFO"u8) && a.Count == 2)
        {
            // pfail: slots of a member this node cannot reach now; fail: none, since a member that left has handed its slots on.
            var pfail = members.Where(m => m.State == MemberState.Unreachable).Sum(m => m.Ranges.Sum(r => r.End - r.Start + 1));
            var left = members.Count(m => m.State == MemberState.Left);
            _out.Verbatim(string.Create(CultureInfo.InvariantCulture,
                $"cluster_enabled:1\r\ncluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:{16384 - pfail}\r\ncluster_slots_pfail:{pfail}\r\ncluster_slots_fail:0\r\ncluster_known_nodes:{members.Length}\r\ncluster_size:{members.Length - left}\r\ncluster_current_epoch:1\r\ncluster_my_epoch:1\r\n"));
        }
        else if (a.Is(1, "SLOTS"u8) && a.Count == 2)
        {
            var ranges = members.SelectMany(m => m.Ranges.Select(r => (Range: r, Member: m))).OrderBy(x => x.Range.Start).ToArray();
            _out.ArrayHeader(ranges.Length);
            foreach (var (range, member) in ranges)
            {
                _out.ArrayHeader(3);
                _out.IntegerValue(range.Start);
                _out.IntegerValue(range.End);
                // Redis 7's node entry: endpoint, port, id, and a map of further endpoints (none here).
                _out.ArrayHeader(4);
                _out.Bulk(member.Host);
                _out.IntegerValue(member.Port);
                _out.Bulk(member.Id);
                _out.MapHeader(0);
            }
        }
        else if (a.Is(1, "NODES"u8) && a.Count == 2)
        {
            var text = new StringBuilder();
            for (var i = 0; i < members.Length; i++)
            {
                var m = members[i];
                var flags = (i == mesh.Rank ? "myself,master" : "master") + m.State switch { MemberState.Unreachable => ",fail?", MemberState.Left => ",fail", _ => "" };
                var link = m.State == MemberState.Up ? "connected" : "disconnected";
                var slots = string.Concat(m.Ranges.Select(r => r.Start == r.End ? $" {r.Start}" : $" {r.Start}-{r.End}"));
                text.Append(CultureInfo.InvariantCulture, $"{m.Id} {m.Host}:{m.Port}@{m.Port} {flags} - 0 0 1 {link}{slots}\n");
            }

            _out.Verbatim(text.ToString());
        }
        else if (a.Is(1, "SHARDS"u8) && a.Count == 2)
        {
            _out.ArrayHeader(members.Length);
            foreach (var m in members)
            {
                _out.MapHeader(2);
                _out.Bulk("slots");
                _out.ArrayHeader(2 * m.Ranges.Count);
                foreach (var (start, end) in m.Ranges)
                {
                    _out.IntegerValue(start);
                    _out.IntegerValue(end);
                }

                _out.Bulk("nodes");
                _out.ArrayHeader(1);
                _out.MapHeader(6);
                _out.Bulk("id");
                _out.Bulk(m.Id);
                _out.Bulk("port");
                _out.IntegerValue(m.Port);
                _out.Bulk("ip");
                _out.Bulk(m.Host);
                _out.Bulk("role");
                _out.Bulk("master");
                _out.Bulk("replication-offset");
                _out.IntegerValue(0);
                _out.Bulk("health");
                _out.Bulk(m.State == MemberState.Up ? "online" : "failed");
            }
        }
        else
        {
            UnknownSubcommand(a, "CLUSTER");
        }
    }

    internal enum MemberState
    {
        Up,
        Unreachable,
        Left,
    }

    internal sealed record Member(string Id, string Host, int Port, IReadOnlyList<(int Start, int End)> Ranges, MemberState State);

    /// <summary>The members in rank order, each with an id every node derives alike (a hash of its endpoint), the slots the current map gives it, and its state as this node sees it.</summary>
    internal static Member[] Members(IMeshRouter mesh)
    {
        var members = new Member[mesh.Endpoints.Count];
        for (var rank = 0; rank < members.Length; rank++)
        {
            var endPoint = (IPEndPoint)mesh.Endpoints[rank];
            // 40 hex digits, as Redis node ids: the first 20 bytes of a SHA-256 of the endpoint.
            var id = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(endPoint.ToString())).AsSpan(0, 20));
            var state = mesh.HasLeft(rank) ? MemberState.Left : mesh.IsKnownDown(rank) ? MemberState.Unreachable : MemberState.Up;
            members[rank] = new Member(id, endPoint.Address.ToString(), endPoint.Port, mesh.Slots.RangesOf(rank), state);
        }

        return members;
    }
}
