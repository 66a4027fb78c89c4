using System.Buffers;
using System.Text;

namespace Cache.Transport.Peer;

internal sealed partial class PeerClient
{
    /// <summary>The handshake and the frame reader of a connection: what is read before and while answers arrive.</summary>
    internal sealed partial class Connection
    {
        private async Task HandshakeAsync(PeerClientOptions options, CancellationToken cancellationToken)
        {
            var nonce = PeerAuth.NewNonce();
            var hello = new PeerFrameBuilder().Start(PeerOp.Hello, 0).Int32(PeerFrame.Version).Bytes(Encoding.UTF8.GetBytes(options.ClusterId)).Bytes(nonce).Int32(options.CompressAbove);
            var preamble = PeerFrame.Preamble.ToArray();
            var helloBytes = hello.Finish();
            await _stream.WriteAsync(preamble, cancellationToken);
            await _stream.WriteAsync(helloBytes, cancellationToken);
            Interlocked.Add(ref _written, preamble.Length + helloBytes.Length);
            var reply = await ReadFrameAsync(cancellationToken) ?? throw new IOException("The peer closed the connection during the handshake.");
            if (reply.Op == PeerOp.Challenge)
            {
                var payload = new PeerPayloadReader(reply.Payload);
                if (options.Secret is not { Length: > 0 } secret
                    || !payload.TryReadBytes(out var serverNonce)
                    || !payload.TryReadBytes(out var serverProof)
                    || !PeerAuth.Verify(secret, "server", nonce, serverNonce, serverProof))
                {
                    throw new PeerRefusedException("The peer could not prove the shared secret (or this node has none).");
                }

                var proof = new PeerFrameBuilder().Start(PeerOp.Proof, 0).Bytes(PeerAuth.Proof(secret, "client", serverNonce, nonce)).Finish();
                await _stream.WriteAsync(proof, cancellationToken);
                Interlocked.Add(ref _written, proof.Length);
                reply = await ReadFrameAsync(cancellationToken) ?? throw new IOException("The peer closed the connection during the handshake.");
            }

            if (reply.Op == PeerOp.Error)
            {
                var payload = new PeerPayloadReader(reply.Payload);
                var message = payload.TryReadBytes(out var text) ? Encoding.UTF8.GetString(text) : "refused";
                throw new PeerRefusedException($"The peer refused the connection: {message}.");
            }

            if (reply.Op != PeerOp.HelloOk)
            {
                throw new PeerRefusedException($"The peer answered the handshake with {reply.Op}.");
            }

            // The server answers with the threshold it accepts: the client's, or 0 when it declines.
            var accepted = new PeerPayloadReader(reply.Payload);
            CompressAbove = options.CompressAbove > 0 && accepted.TryReadInt32(out var threshold) && threshold == options.CompressAbove ? threshold : 0;
        }

        private async Task<Reply?> ReadFrameAsync(CancellationToken cancellationToken)
        {
            var header = new byte[PeerFrame.HeaderLength];
            while (true)
            {
                var result = await _reader.ReadAsync(cancellationToken);
                var buffer = result.Buffer;
                if (buffer.Length > _buffered)
                {
                    // Progress, even inside a frame: a request waiting behind a large reply is not facing silence.
                    Interlocked.Add(ref _receivedBytes, buffer.Length - _buffered);
                    Volatile.Write(ref _lastReceived, _time.GetTimestamp());
                    _buffered = buffer.Length;
                }

                if (buffer.Length >= PeerFrame.HeaderLength)
                {
                    buffer.Slice(0, PeerFrame.HeaderLength).CopyTo(header);
                    PeerFrame.TryReadHeader(header, out var length, out var op, out var id);
                    if (length < 0 || length > (1 << 30))
                    {
                        throw new IOException($"The peer sent a frame of {length} bytes.");
                    }

                    var total = PeerFrame.HeaderLength + length;
                    if (buffer.Length >= total)
                    {
                        var payload = buffer.Slice(PeerFrame.HeaderLength, length).ToArray();
                        Interlocked.Add(ref _received.Value, total);
                        _buffered = buffer.Length - total;
                        _reader.AdvanceTo(buffer.GetPosition(total));
                        return new Reply(op, payload) { Id = id, CompressAbove = CompressAbove };
                    }
                }

                if (result.IsCompleted || result.IsCanceled)
                {
                    _buffered = 0;
                    _reader.AdvanceTo(buffer.End);
                    return null;
                }

                // Not a whole frame yet: wait for more bytes.
                _reader.AdvanceTo(buffer.Start, buffer.End);
            }
        }
    }
}
