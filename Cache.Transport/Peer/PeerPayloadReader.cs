using System.Buffers;
using System.Buffers.Binary;

namespace Cache.Transport.Peer;

/// <summary>Reads a peer payload with bounds checks: a malformed payload makes a read return false, never throw.</summary>
internal ref struct PeerPayloadReader(ReadOnlySpan<byte> payload)
{
    private ReadOnlySpan<byte> _rest = payload;

    public readonly bool IsEmpty => _rest.IsEmpty;

    /// <summary>The bytes not read yet.</summary>
    public readonly ReadOnlySpan<byte> Remaining => _rest;

    public bool TryReadInt32(out int value)
    {
        value = 0;
        if (_rest.Length < 4)
        {
            return false;
        }

        value = BinaryPrimitives.ReadInt32LittleEndian(_rest);
        _rest = _rest[4..];
        return true;
    }

    public bool TryReadInt64(out long value)
    {
        value = 0;
        if (_rest.Length < 8)
        {
            return false;
        }

        value = BinaryPrimitives.ReadInt64LittleEndian(_rest);
        _rest = _rest[8..];
        return true;
    }

    public bool TryReadByte(out byte value)
    {
        value = 0;
        if (_rest.IsEmpty)
        {
            return false;
        }

        value = _rest[0];
        _rest = _rest[1..];
        return true;
    }

    /// <summary>A length-prefixed byte string; the length is checked against what is there before anything is sliced.</summary>
    public bool TryReadBytes(out ReadOnlySpan<byte> bytes)
    {
        bytes = default;
        if (!TryReadInt32(out var length) || length < 0 || length > _rest.Length)
        {
            return false;
        }

        bytes = _rest[..length];
        _rest = _rest[length..];
        return true;
    }

    /// <summary>The next <paramref name="length"/> raw bytes; false when fewer remain.</summary>
    public bool TryReadRaw(int length, out ReadOnlySpan<byte> bytes)
    {
        bytes = default;
        if (length < 0 || length > _rest.Length)
        {
            return false;
        }

        bytes = _rest[..length];
        _rest = _rest[length..];
        return true;
    }

    /// <summary>A count of items of at least <paramref name="minItemBytes"/> each: a count the remaining bytes cannot hold is refused.</summary>
    public bool TryReadCount(int minItemBytes, out int count) =>
        TryReadInt32(out count) && count >= 0 && (long)count * minItemBytes <= _rest.Length;
}
