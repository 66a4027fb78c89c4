using Cache.Engine;

namespace Cache.Transport.Peer;

/// <summary>
/// The client's half of a batched <see cref="PeerOp.Get"/>: the request's payload, and the values out of
/// a <see cref="PeerOp.GetReply"/>. One place for both, so that <see cref="PeerClient"/> and the
/// micro-benchmarks run the same code. Stateless; thread-safe.
/// </summary>
internal static class PeerGetCodec
{
    /// <summary>Appends the payload of a batched read of <paramref name="keys"/> to a started frame.</summary>
    public static void WriteRequest(PeerFrameBuilder frame, IReadOnlyList<StoreKey> keys)
    {
        frame.Int32(keys.Count);

        // Indexed, not foreach: an interface's enumerator would be boxed on every request.
        for (var i = 0; i < keys.Count; i++)
        {
            frame.Bytes(keys[i].Span);
        }
    }

    /// <summary>
    /// The values of a reply as the connection's reader took them off the socket (<paramref name="received"/>: one
    /// array per value, null for a missing key; null as a whole when the frame was malformed): the same array when it
    /// answers <paramref name="expectedCount"/> keys, with <paramref name="compressed"/> each value decoded in place
    /// (a raw one becomes a slice past its format byte, a compressed one a new array). Null when it does not fit.
    /// </summary>
    public static ReadOnlyMemory<byte>?[]? Values(ReadOnlyMemory<byte>?[]? received, int expectedCount, bool compressed)
    {
        if (received is null || received.Length != expectedCount)
        {
            return null;
        }

        for (var i = 0; compressed && i < received.Length; i++)
        {
            if (received[i] is { } value)
            {
                if (ValueCodec.TryDecode(value, out var decoded) != DecodeResult.Value)
                {
                    return null;
                }

                received[i] = decoded;
            }
        }

        return received;
    }

    /// <summary>
    /// The values of a reply's <paramref name="payload"/>: element i is key i's value, or null when missing.
    /// Raw values are slices of <paramref name="payload"/> (the caller's array, so they live as long as it);
    /// with <paramref name="compressed"/> every value carries the codec's format byte, and a compressed one is
    /// decoded into a new array. Null when the reply is malformed or does not answer <paramref name="expectedCount"/> keys.
    /// </summary>
    public static ReadOnlyMemory<byte>?[]? ReadReply(byte[] payload, int expectedCount, bool compressed)
    {
        var reader = new PeerPayloadReader(payload);
        if (!reader.TryReadInt32(out var count) || count != expectedCount)
        {
            return null;
        }

        var values = new ReadOnlyMemory<byte>?[count];
        var offset = 4;
        for (var i = 0; i < count; i++)
        {
            if (!reader.TryReadInt32(out var length))
            {
                return null;
            }

            offset += 4;
            if (length < 0)
            {
                continue;
            }

            if (!reader.TryReadRaw(length, out _))
            {
                return null;
            }

            ReadOnlyMemory<byte> value = payload.AsMemory(offset, length);
            offset += length;
            if (compressed)
            {
                if (ValueCodec.TryDecode(value, out value) != DecodeResult.Value)
                {
                    return null;
                }
            }

            values[i] = value;
        }

        return values;
    }
}
