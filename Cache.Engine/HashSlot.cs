namespace Cache.Engine;

/// <summary>
/// Redis Cluster's key-to-slot function: CRC16 (XMODEM: polynomial 0x1021, initial value 0, no
/// reflection) of the key, or of its hash tag, modulo 16384. Pure functions; thread-safe.
/// </summary>
public static class HashSlot
{
    /// <summary>The number of hash slots, as in Redis Cluster.</summary>
    public const int SlotCount = 16384;

    private static readonly ushort[] Table = BuildTable();

    /// <summary>CRC16/XMODEM of <paramref name="data"/>. The check value of "123456789" is 0x31C3.</summary>
    public static ushort Crc16(ReadOnlySpan<byte> data)
    {
        var table = Table;
        ushort crc = 0;
        foreach (var b in data)
        {
            crc = (ushort)((crc << 8) ^ table[((crc >> 8) ^ b) & 0xFF]);
        }

        return crc;
    }

    /// <summary>
    /// The slot of a key. When the key holds a '{' followed later by a '}' with at least one byte
    /// between them, only the bytes between the first '{' and the first '}' after it are hashed, so
    /// that keys sharing a tag share a slot.
    /// </summary>
    public static int GetSlot(ReadOnlySpan<byte> key) => Crc16(HashedPart(key)) & (SlotCount - 1);

    /// <summary>The part of the key that is hashed: its hash tag when it has a non-empty one, else the whole key.</summary>
    public static ReadOnlySpan<byte> HashedPart(ReadOnlySpan<byte> key)
    {
        var open = key.IndexOf((byte)'{');
        if (open >= 0)
        {
            var close = key[(open + 1)..].IndexOf((byte)'}');
            if (close > 0)
            {
                return key.Slice(open + 1, close);
            }
        }

        return key;
    }

    private static ushort[] BuildTable()
    {
        var table = new ushort[256];
        for (var i = 0; i < 256; i++)
        {
            var crc = (ushort)(i << 8);
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 0x8000) != 0 ? (ushort)((crc << 1) ^ 0x1021) : (ushort)(crc << 1);
            }

            table[i] = crc;
        }

        return table;
    }
}
