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

    /// <summary>Encodes a command made of <paramref name="args"/> (the name first), for a client speaking RESP <paramref name="protocol"/>.</summary>
    public static byte[] EncodeParts(int protocol, params byte[][] args)
    {
        var length = 8L;
        foreach (var arg in args)
        {
            length += 4 + arg.Length;
        }

        var bytes = new byte[length];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, protocol);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), args.Length);
        var offset = 8;
        foreach (var arg in args)
        {
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(offset), arg.Length);
            arg.CopyTo(bytes.AsSpan(offset + 4));
            offset += 4 + arg.Length;
        }

        return bytes;
    }

    /// <summary>Set in the protocol word of a transaction: the payload is then a count and that many length-prefixed encoded commands, run as one EXEC.</summary>
    public const int TransactionFlag = 0x100;

    /// <summary>Encodes a transaction: the commands MULTI queued (each as <see cref="Encode"/> made it), to run on their keys' owner as one EXEC. The same framing as a command's, each command an item.</summary>
    public static byte[] EncodeTransaction(int protocol, IReadOnlyList<byte[]> commands) => EncodeParts(protocol | TransactionFlag, [.. commands]);

    /// <summary>Reads a transaction <see cref="EncodeTransaction"/> made. False when the payload is not one, or is malformed.</summary>
    public static bool TryDecodeTransaction(ReadOnlySpan<byte> payload, int maxCommands, out int protocol, out List<byte[]> commands)
    {
        commands = [];
        protocol = 0;
        var ranges = new ArgRange[8];
        if (!TryDecodeItems(payload, maxCommands, ref ranges, out var header, out var count) || (header & TransactionFlag) == 0)
        {
            return false;
        }

        protocol = header & ~TransactionFlag;
        foreach (var range in ranges.AsSpan(0, count))
        {
            commands.Add(payload.Slice(range.Start, range.Length).ToArray());
        }

        return protocol is 2 or 3;
    }

    /// <summary>
    /// Reads an encoded command into <paramref name="ranges"/> (offsets into <paramref name="payload"/>),
    /// growing it only with arguments actually present. False when the payload is malformed or has more
    /// than <paramref name="maxArguments"/> arguments.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> payload, int maxArguments, ref ArgRange[] ranges, out int protocol, out int count) =>
        TryDecodeItems(payload, maxArguments, ref ranges, out protocol, out count) && protocol is 2 or 3 && count >= 1;

    /// <summary>The framing of both: an i32 header word, an i32 count, then that many length-prefixed items, read into <paramref name="ranges"/>.</summary>
    private static bool TryDecodeItems(ReadOnlySpan<byte> payload, int maxItems, ref ArgRange[] ranges, out int header, out int count)
    {
        count = 0;
        header = 0;
        if (payload.Length < 8)
        {
            return false;
        }

        header = BinaryPrimitives.ReadInt32LittleEndian(payload);
        var declared = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
        if (declared < 0 || declared > maxItems)
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
