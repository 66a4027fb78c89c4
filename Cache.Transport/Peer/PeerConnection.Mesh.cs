using System.Buffers;
using System.Text;

namespace Cache.Transport.Peer;

/// <summary>What a mesh asks of a member besides data: rank 0's rendezvous, and RESP commands forwarded to the owner of their keys.</summary>
internal sealed partial class PeerConnection
{
    private void Join(uint id, ref PeerPayloadReader payload)
    {
        if (!payload.TryReadInt32(out var rank) || !payload.TryReadInt32(out var size) || !payload.TryReadBytes(out var endpoint))
        {
            Fail(id, "malformed join");
            return;
        }

        var board = services.Rendezvous;
        if (board is null || !board.TryJoin(rank, size, Encoding.UTF8.GetString(endpoint)))
        {
            Send(_reply.Start(PeerOp.Error, id).Bytes(Encoding.UTF8.GetBytes(board is null
                ? "this node is not the rendezvous point"
                : $"rank {rank} of {size} does not fit a job of {board.WorldSize}, or reported another endpoint")));
            return;
        }

        var (table, joined) = board.Snapshot();
        if (table is null)
        {
            _reply.Start(PeerOp.Waiting, id).Int32(joined.Length);
            foreach (var r in joined)
            {
                _reply.Int32(r);
            }

            Send(_reply);
            return;
        }

        _reply.Start(PeerOp.Table, id).Int32(table.Length);
        foreach (var entry in table)
        {
            _reply.Bytes(Encoding.UTF8.GetBytes(entry));
        }

        Send(_reply);
    }

    private void RunCommand(uint id, ReadOnlySpan<byte> payload)
    {
        _runner ??= services.Commands?.CreateRunner();
        if (_runner is null)
        {
            Send(_reply.Start(PeerOp.Error, id).Bytes("this node does not run forwarded commands"u8));
            return;
        }

        if (!_runner.TryRun(payload, out var reply))
        {
            // The frame itself was sound, so the connection (shared by every request to this node) stays open.
            Send(_reply.Start(PeerOp.Error, id).Bytes("malformed command"u8));
            return;
        }

        PeerFrame.WriteHeader(output.GetSpan(PeerFrame.HeaderLength), reply.Length, PeerOp.CommandReply, id);
        output.Advance(PeerFrame.HeaderLength);
        output.Write(reply);
    }
}
