using System.Numerics;
using Cache.Engine;

using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>GETBIT, SETBIT, BITCOUNT and SETRANGE: commands that read or write part of a string, with Redis 7's rules for offsets and ranges.</summary>
internal sealed partial class RespSession
{
    private const string BitOffsetError = "ERR bit offset is not an integer or out of range";
    private const string TooLong = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

    /// <summary>A bit offset as Redis accepts one: at least 0, and inside a string of proto-max-bulk-len bytes.</summary>
    private bool TryBitOffset(ReadOnlySpan<byte> text, out long offset) =>
        TryLong(text, out offset) && offset >= 0 && (offset >> 3) < _server.Limits.MaxBulkLength;

    private void GetBit(in CommandArgs a)
    {
        if (!TryBitOffset(a[2], out var offset))
        {
            _out.Error(BitOffsetError);
            return;
        }

        var bit = 0;
        _store.TryRead(a[1], offset, (value, at) =>
        {
            var index = at >> 3;
            bit = index < value.Length ? (value[(int)index] >> (7 - (int)(at & 7))) & 1 : 0;
        });
        _out.IntegerValue(bit);
    }

    private struct BitState
    {
        public long Offset;
        public bool Set;
        public int Previous;
    }

    private void SetBit(in CommandArgs a)
    {
        if (!TryBitOffset(a[2], out var offset))
        {
            _out.Error(BitOffsetError);
            return;
        }

        if (!TryLong(a[3], out var on) || (on & ~1L) != 0)
        {
            _out.Error("ERR bit is not an integer or out of range");
            return;
        }

        var state = new BitState { Offset = offset, Set = on == 1 };
        var result = _store.Update(a[1], ref state, static (ReadOnlySpan<byte> current, bool exists, ref BitState s) =>
        {
            var index = (int)(s.Offset >> 3);
            var value = new byte[Math.Max(current.Length, index + 1)];
            current.CopyTo(value);
            var mask = (byte)(1 << (7 - (int)(s.Offset & 7)));
            s.Previous = (value[index] & mask) != 0 ? 1 : 0;
            value[index] = s.Set ? (byte)(value[index] | mask) : (byte)(value[index] & ~mask);
            return value;
        });
        if (!result.IsStored())
        {
            _out.Error(OutOfMemory);
            return;
        }

        _out.IntegerValue(state.Previous);
    }

    private void BitCount(in CommandArgs a)
    {
        long start = 0, end = -1;
        var bits = false;
        var ranged = a.Count is 4 or 5;
        if (a.Count == 3 || a.Count > 5)
        {
            _out.Error(SyntaxError);
            return;
        }

        if (ranged)
        {
            if (!TryLong(a[2], out start) || !TryLong(a[3], out end))
            {
                _out.Error(NotInteger);
                return;
            }

            if (a.Count == 5)
            {
                if (a.Is(4, "BIT"u8))
                {
                    bits = true;
                }
                else if (!a.Is(4, "BYTE"u8))
                {
                    _out.Error(SyntaxError);
                    return;
                }
            }
        }

        long count = 0;
        _store.TryRead(a[1], (start, end, bits, ranged), (value, s) => count = CountBits(value, s.start, s.end, s.bits, s.ranged));
        _out.IntegerValue(count);
    }

    /// <summary>The set bits of <paramref name="value"/> between two byte (or bit) positions, both included, negative ones counting from the end.</summary>
    private static long CountBits(ReadOnlySpan<byte> value, long start, long end, bool bits, bool ranged)
    {
        long total = value.Length;
        if (!ranged)
        {
            start = 0;
            end = total - 1;
        }
        else
        {
            if (bits)
            {
                total <<= 3;
            }

            if (start < 0)
            {
                start += total;
            }

            if (end < 0)
            {
                end += total;
            }

            start = Math.Max(start, 0);
            end = Math.Max(end, 0);
            end = Math.Min(end, total - 1);
        }

        if (start > end || value.IsEmpty)
        {
            return 0;
        }

        long firstBit = 0, lastBit = 7;
        if (bits)
        {
            firstBit = start & 7;
            lastBit = end & 7;
            start >>= 3;
            end >>= 3;
        }

        long count = 0;
        for (var i = start; i <= end; i++)
        {
            count += BitOperations.PopCount(value[(int)i]);
        }

        if (bits)
        {
            // Take off the bits of the first and last bytes that lie outside the range (bit 0 is the most significant).
            count -= BitOperations.PopCount((uint)(value[(int)start] & (0xFF << (int)(8 - firstBit)) & 0xFF));
            count -= BitOperations.PopCount((uint)(value[(int)end] & ((1 << (int)(7 - lastBit)) - 1)));
        }

        return count;
    }

    private struct RangeState
    {
        public long Offset;
        public byte[] Patch;
        public long MaxLength;
        public long Length;
        public bool TooLong;
    }

    private void SetRange(in CommandArgs a)
    {
        if (!TryLong(a[2], out var offset))
        {
            _out.Error(NotInteger);
            return;
        }

        if (offset < 0)
        {
            _out.Error("ERR offset is out of range");
            return;
        }

        var state = new RangeState { Offset = offset, Patch = a[3].ToArray(), MaxLength = _server.Limits.MaxBulkLength };
        var result = _store.Update(a[1], ref state, static (ReadOnlySpan<byte> current, bool exists, ref RangeState s) =>
        {
            if (s.Patch.Length == 0)
            {
                // Nothing to write: the reply is the present length, and an absent key stays absent.
                s.Length = current.Length;
                return null;
            }

            if (s.Offset > s.MaxLength - s.Patch.Length)
            {
                s.TooLong = true;
                return null;
            }

            var value = new byte[Math.Max(current.Length, s.Offset + s.Patch.Length)];
            current.CopyTo(value);
            s.Patch.CopyTo(value.AsSpan((int)s.Offset));
            s.Length = value.Length;
            return value;
        });
        if (state.TooLong)
        {
            _out.Error(TooLong);
        }
        else if (result != SetResult.ConditionNotMet && !result.IsStored())
        {
            _out.Error(OutOfMemory);
        }
        else
        {
            _out.IntegerValue(state.Length);
        }
    }
}
