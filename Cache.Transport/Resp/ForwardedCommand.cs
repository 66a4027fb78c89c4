using System.Buffers;
using System.Buffers.Binary;

namespace Cache.Transport.Resp;

/// <summary>
/// The encoding of a RESP command sent to the member that owns its keys (the payload of
/// <see cref="Peer.PeerOp.Command"/>): i32 protocol, i32 count, then each argument as i32 length and
/// bytes, all little-endian. Stateless; thread-safe.
/// </summary>
internal static class ForwardedCommand
{
    /// <summary>Encodes the arguments of <paramref name="a"/> at <paramref name="indices"/>, in that order, for a client speaking RESP <paramref name="protocol"/>.</summary>
    public static byte[] Encode(int protocol, in CommandArgs a, ReadOnlySpan<int> indices)
    {
        var length = 8L;
        foreach (var i in indices)
        {
            length += 4 + a[i].Length;
        }

        // A command that fits the client's query buffer can still exceed an array: refuse it rather than overflow.
        if (length > Array.MaxLength)
        {
            throw new InvalidOperationException("The command is too large to forward.");
        }

        var bytes = new byte[length];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, protocol);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), indices.Length);
        var offset = 8;
        foreach (var i in indices)
        {
            var arg = a[i];
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(offset), arg.Length);
            arg.CopyTo(bytes.AsSpan(offset + 4));
            offset += 4 + arg.Length;
        }

        return bytes;
    }

    /// <summary>
    /// Reads an encoded command into <paramref name="ranges"/> (offsets into <paramref name="payload"/>),
    /// growing it only with arguments actually present. False when the payload is malformed or has more
    /// than <paramref name="maxArguments"/> arguments.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> payload, int maxArguments, ref ArgRange[] ranges, out int protocol, out int count)
    {
        count = 0;
        protocol = 0;
        if (payload.Length < 8)
        {
            return false;
        }

        protocol = BinaryPrimitives.ReadInt32LittleEndian(payload);
        var declared = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
        if (protocol is not (2 or 3) || declared < 1 || declared > maxArguments)
        {
            return false;
        }

        var offset = 8;
        for (var i = 0; i < declared; i++)
        {
            if (payload.Length - offset < 4)
            {
                return false;
            }

            var length = BinaryPrimitives.ReadInt32LittleEndian(payload[offset..]);
            offset += 4;
            if (length < 0 || length > payload.Length - offset)
            {
                return false;
            }

            if (count == ranges.Length)
            {
                Array.Resize(ref ranges, ranges.Length * 2);
            }

            ranges[count++] = new ArgRange(offset, length);
            offset += length;
        }

        return offset == payload.Length;
    }
}
