using System.Buffers;
using Cache.Engine;

namespace Cache.Transport.Peer;

/// <summary>The data operations: batched reads and writes on the store, and count or clear by key prefix.</summary>
internal sealed partial class PeerConnection
{
    /// <summary>
    /// Hints the next <paramref name="count"/> keys of a batched read to the store (a copy of the reader
    /// looks ahead), so that their lookups' cache misses overlap (see <see cref="BlockStore.Prefetch"/>).
    /// </summary>
    private void HintKeys(PeerPayloadReader ahead, int count)
    {
        var source = ahead.Remaining;
        Span<Range> keys = stackalloc Range[HintWindow];
        var hinted = 0;
        while (hinted < count && ahead.TryReadBytes(out var key))
        {
            var end = source.Length - ahead.Remaining.Length;
            keys[hinted++] = new Range(end - key.Length, end);
        }

        if (hinted > 1)
        {
            services.Store.Prefetch(source, keys[..hinted]);
        }
    }

    private void Get(uint id, ref PeerPayloadReader payload)
    {
        if (!payload.TryReadCount(4, out var count))
        {
            Fail(id, "malformed get");
            return;
        }

        // Look every key up first, so that the reply's length is known and the values are written
        // straight into the output, copied once.
        var values = new ReadOnlyMemory<byte>?[count];
        var compressed = _compressAbove > 0 ? new byte[]?[count] : null;
        long length = 4;
        for (var i = 0; i < count; i++)
        {
            if (i % HintWindow == 0)
            {
                HintKeys(payload, Math.Min(HintWindow, count - i));
            }

            if (!payload.TryReadBytes(out var key))
            {
                Fail(id, "malformed get");
                return;
            }

            if (services.Store.TryGet(key, out var value))
            {
                values[i] = value;
                if (compressed is not null)
                {
                    compressed[i] = WireCodec.TryCompress(value.Span, _compressAbove);
                    length += 4 + (compressed[i]?.Length ?? value.Length + 1);
                }
                else
                {
                    length += 4 + value.Length;
                }
            }
            else
            {
                length += 4;
            }
        }

        if (length > int.MaxValue)
        {
            Send(_reply.Start(PeerOp.Error, id).Bytes("reply too large"u8));
            return;
        }

        var header = output.GetSpan(PeerFrame.HeaderLength + 4);
        PeerFrame.WriteHeader(header, (int)length, PeerOp.GetReply, id);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(header[PeerFrame.HeaderLength..], count);
        output.Advance(PeerFrame.HeaderLength + 4);
        for (var i = 0; i < count; i++)
        {
            var value = values[i];
            var packed = compressed?[i];
            var framedLength = value is null ? -1 : packed?.Length ?? (value.Value.Length + (compressed is null ? 0 : 1));
            var prefix = output.GetSpan(5);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(prefix, framedLength);
            if (value is not null && compressed is not null && packed is null)
            {
                // Compression agreed but not worth it for this value: the raw format byte, then the bytes.
                prefix[4] = (byte)ValueFormat.Raw;
                output.Advance(5);
            }
            else
            {
                output.Advance(4);
            }

            if (packed is not null)
            {
                output.Write(packed);
            }
            else if (value is { } bytes)
            {
                output.Write(bytes.Span);
            }
        }
    }

    private void Set(uint id, ref PeerPayloadReader payload)
    {
        if (!payload.TryReadCount(8, out var count))
        {
            Fail(id, "malformed set");
            return;
        }

        _reply.Start(PeerOp.SetReply, id).Int32(count);
        for (var i = 0; i < count; i++)
        {
            if (!payload.TryReadBytes(out var key) || !payload.TryReadBytes(out var value))
            {
                Fail(id, "malformed set");
                return;
            }

            if (_compressAbove > 0 && !WireCodec.TryDecode(value, out value))
            {
                Fail(id, "malformed value");
                return;
            }

            _reply.Byte((byte)services.Store.Set(key, value));
        }

        Send(_reply);
    }

    /// <summary>
    /// Counts or removes the keys under a prefix on the thread pool: removing (and counting an untracked prefix)
    /// scans every key, and this connection's thread is the node's one socket event thread, which must go on
    /// serving every other client and peer meanwhile, as KEYS and FLUSHDB do. Peer replies carry their request's
    /// id, so this one may overtake or follow the others; the read loop writes it when woken.
    /// </summary>
    private void CountOrClear(uint id, PeerOp op, byte[] prefix)
    {
        _ = Task.Run(() =>
        {
            long number;
            try
            {
                number = op == PeerOp.Count ? services.Store.CountKeys(prefix) : services.Store.RemoveKeys(prefix);
            }
            catch (ObjectDisposedException)
            {
                // The node is shutting down; the peer's request times out into a miss.
                return;
            }

            _late.Enqueue((id, number));
            try
            {
                _input?.CancelPendingRead();
            }
            catch (InvalidOperationException)
            {
                // The connection has ended: nobody waits for the reply.
            }
        });
    }
}
