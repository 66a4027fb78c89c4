using System.Buffers;
using System.IO.Pipelines;
using System.Text;

namespace Cache.Transport.Peer;

/// <summary>The preamble and the handshake: protocol version, cluster identity, and the secret's HMAC challenge in both directions.</summary>
internal sealed partial class PeerConnection
{
    /// <summary>Consumes the preamble; false (close) as soon as the bytes that arrived differ from it.</summary>
    private static async Task<bool> ReadPreambleAsync(PipeReader input)
    {
        var length = PeerFrame.Preamble.Length;
        while (true)
        {
            var result = await input.ReadAsync();
            var buffer = result.Buffer;
            var seen = (int)Math.Min(buffer.Length, length);
            var ok = Matches(buffer.Slice(0, seen));
            if (!ok || seen == length)
            {
                input.AdvanceTo(buffer.GetPosition(seen));
                return ok;
            }

            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                return false;
            }
        }
    }

    private static bool Matches(ReadOnlySequence<byte> bytes)
    {
        Span<byte> copy = stackalloc byte[8];
        bytes.CopyTo(copy);
        return copy[..(int)bytes.Length].SequenceEqual(PeerFrame.Preamble[..(int)bytes.Length]);
    }

    private void Hello(uint id, ref PeerPayloadReader payload)
    {
        if (!payload.TryReadInt32(out var version) || !payload.TryReadBytes(out var cluster) || !payload.TryReadBytes(out var nonce) || nonce.Length != PeerAuth.NonceLength)
        {
            Fail(id, "malformed hello");
            return;
        }

        // Optional: the value length from which the client wants values compressed (absent or 0: never).
        // The node agrees to any positive threshold; the answer repeats it.
        if (payload.TryReadInt32(out var compressAbove) && compressAbove > 0)
        {
            _compressAbove = compressAbove;
        }

        if (version != PeerFrame.Version)
        {
            Fail(id, $"protocol version {version} is not supported (this node speaks {PeerFrame.Version})");
            return;
        }

        if (!cluster.SequenceEqual(Encoding.UTF8.GetBytes(services.ClusterId)))
        {
            Fail(id, "another cluster");
            return;
        }

        if (services.Secret is not { Length: > 0 } secret)
        {
            _state = State.Ready;
            Send(_reply.Start(PeerOp.HelloOk, id).Int32(_compressAbove));
            return;
        }

        _clientNonce = nonce.ToArray();
        _serverNonce = PeerAuth.NewNonce();
        _state = State.AwaitProof;
        Send(_reply.Start(PeerOp.Challenge, id).Bytes(_serverNonce).Bytes(PeerAuth.Proof(secret, "server", _clientNonce, _serverNonce)));
    }

    private void Proof(uint id, ref PeerPayloadReader payload)
    {
        if (!payload.TryReadBytes(out var proof) || !PeerAuth.Verify(services.Secret!, "client", _serverNonce, _clientNonce, proof))
        {
            Fail(id, "authentication failed");
            return;
        }

        _state = State.Ready;
        Send(_reply.Start(PeerOp.HelloOk, id).Int32(_compressAbove));
    }
}
