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

        var members = Members(mesh);
        if (a.Is(1, "MYID"u8) && a.Count == 2)
        {
            _out.Bulk(members[mesh.Rank].Id);
        }
        else if (a.Is(1, "INFO"u8) && a.Count == 2)
        {
            _out.Bulk(string.Create(CultureInfo.InvariantCulture,
                $"cluster_enabled:1\r\ncluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:0\r\ncluster_known_nodes:{members.Length}\r\ncluster_size:{members.Length}\r\ncluster_current_epoch:1\r\ncluster_my_epoch:1\r\n"));
        }
        else if (a.Is(1, "SLOTS"u8) && a.Count == 2)
        {
            _out.ArrayHeader(members.Length);
            foreach (var member in members)
            {
                _out.ArrayHeader(3);
                _out.IntegerValue(member.Start);
                _out.IntegerValue(member.End);
                _out.ArrayHeader(3);
                _out.Bulk(member.Host);
                _out.IntegerValue(member.Port);
                _out.Bulk(member.Id);
            }
        }
        else if (a.Is(1, "NODES"u8) && a.Count == 2)
        {
            var text = new StringBuilder();
            for (var i = 0; i < members.Length; i++)
            {
                var m = members[i];
                text.Append(CultureInfo.InvariantCulture,
                    $"{m.Id} {m.Host}:{m.Port}@{m.Port} {(i == mesh.Rank ? "myself,master" : "master")} - 0 0 1 connected {m.Start}-{m.End}\n");
            }

            _out.Bulk(text.ToString());
        }
        else if (a.Is(1, "SHARDS"u8) && a.Count == 2)
        {
            _out.ArrayHeader(members.Length);
            foreach (var m in members)
            {
                _out.MapHeader(2);
                _out.Bulk("slots");
                _out.ArrayHeader(2);
                _out.IntegerValue(m.Start);
                _out.IntegerValue(m.End);
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
                _out.Bulk("online");
            }
        }
        else
        {
            UnknownSubcommand(a, "CLUSTER");
        }
    }

    private sealed record Member(string Id, string Host, int Port, int Start, int End);

    /// <summary>The members in rank order, each with an id every node derives alike (a hash of its endpoint).</summary>
    private static Member[] Members(IMeshRouter mesh)
    {
        var members = new Member[mesh.Endpoints.Count];
        for (var rank = 0; rank < members.Length; rank++)
        {
            var endPoint = (IPEndPoint)mesh.Endpoints[rank];
            var (start, end) = mesh.Slots.RangeOf(rank);
            // 40 hex digits, as Redis node ids: the first 20 bytes of a SHA-256 of the endpoint.
            var id = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(endPoint.ToString())).AsSpan(0, 20));
            members[rank] = new Member(id, endPoint.Address.ToString(), endPoint.Port, start, end);
        }

        return members;
    }
}
