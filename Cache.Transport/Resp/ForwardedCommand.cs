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

    /// <summary>Encodes a transaction: the commands MULTI queued (each as <see cref="Encode"/> made it), to run on their keys' owner as one EXEC.</summary>
    public static byte[] EncodeTransaction(int protocol, IReadOnlyList<byte[]> commands)
    {
        var length = 8L;
        foreach (var command in commands)
        {
            length += 4 + command.Length;
        }

        if (length > Array.MaxLength)
        {
            throw new InvalidOperationException("The transaction is too large to forward.");
        }

        var bytes = new byte[length];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, protocol | TransactionFlag);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), commands.Count);
        var offset = 8;
        foreach (var command in commands)
        {
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(offset), command.Length);
            command.CopyTo(bytes.AsSpan(offset + 4));
            offset += 4 + command.Length;
        }

        return bytes;
    }

    /// <summary>Reads a transaction <see cref="EncodeTransaction"/> made. False when the payload is not one, or is malformed.</summary>
    public static bool TryDecodeTransaction(ReadOnlySpan<byte> payload, int maxCommands, out int protocol, out List<byte[]> commands)
    {
        commands = [];
        protocol = 0;
        if (payload.Length < 8 || (BinaryPrimitives.ReadInt32LittleEndian(payload) & TransactionFlag) == 0)
        {
            return false;
        }

        protocol = BinaryPrimitives.ReadInt32LittleEndian(payload) & ~TransactionFlag;
        var declared = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
        if (protocol is not (2 or 3) || declared < 0 || declared > maxCommands)
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

            commands.Add(payload.Slice(offset, length).ToArray());
            offset += length;
        }

        return offset == payload.Length;
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
