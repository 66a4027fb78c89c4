using System.Buffers;
using System.Text;
using CsCheck;

namespace Cache.Tests.Fuzz;

/// <summary>One edit of a byte stream: what a corrupting link, a buggy peer or an attacker would do to a valid frame.</summary>
internal readonly record struct Mutation(int Kind, uint Position, byte Value, int Length);

/// <summary>Generators of hostile byte streams: valid frames, mutated, and the split points they arrive at.</summary>
internal static class HostileInput
{
    // Tokens that sit on a parser's edges: terminators, type bytes, lengths at and past the limits.
    private static readonly byte[][] Tokens =
    [
        "\r\n"u8.ToArray(), "\r"u8.ToArray(), "\n"u8.ToArray(), "*"u8.ToArray(), "$"u8.ToArray(), "-1"u8.ToArray(), "0"u8.ToArray(),
        "2147483647"u8.ToArray(), "2147483648"u8.ToArray(), "-2147483649"u8.ToArray(), "9223372036854775807"u8.ToArray(),
        "99999999999999999999"u8.ToArray(), "536870913"u8.ToArray(), "1048577"u8.ToArray(), "\0"u8.ToArray(), "\""u8.ToArray(), "'"u8.ToArray(), "\\x"u8.ToArray(),
    ];

    // Little-endian 32-bit values that break length prefixes and counts of binary frames.
    private static readonly int[] Int32s = [0, -1, 1, int.MaxValue, int.MinValue, 0x7FFFFFF0, 1 << 30, 4096, 4088, 65536, 16 * 1024 * 1024];

    public static readonly Gen<Mutation> Mutation =
        Gen.Select(Gen.Int[0, 8], Gen.UInt, Gen.Byte, Gen.Int[1, 40], (k, p, v, l) => new Mutation(k, p, v, l));

    /// <summary>Chunk sizes a stream is delivered in, used in turn: mostly small, sometimes a byte at a time, sometimes whole.</summary>
    public static readonly Gen<int[]> Splits = Gen.Frequency(
        (4, Gen.Int[1, 48].Array[1, 12]),
        (1, Gen.Const(new[] { 1 })),
        (1, Gen.Const(new[] { int.MaxValue })));

    /// <summary>Printable-ish bytes, with the characters that matter to RESP over-represented.</summary>
    public static readonly Gen<byte[]> Word = Gen.Frequency(
        (6, Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789:{}-_"].Array[0, 12].Select(c => Encoding.ASCII.GetBytes(c))),
        (2, Gen.OneOf<string>("EX", "PX", "NX", "XX", "GET", "KEEPTTL", "100", "-1", "0", "3", "2", "9223372036854775807", "AUTH", "SETNAME", "{tag}k").Select(s => Encoding.ASCII.GetBytes(s))),
        (1, Gen.Byte.Array[0, 24]));

    /// <summary>Applies <paramref name="mutations"/> in order to a copy of <paramref name="input"/>.</summary>
    public static byte[] Apply(byte[] input, Mutation[] mutations)
    {
        var bytes = new List<byte>(input);
        foreach (var m in mutations)
        {
            var at = bytes.Count == 0 ? 0 : (int)(m.Position % (uint)bytes.Count);
            switch (m.Kind)
            {
                case 0 when bytes.Count > 0:
                    bytes[at] ^= (byte)(1 << (m.Value & 7));
                    break;
                case 1 when bytes.Count > 0:
                    bytes[at] = m.Value;
                    break;
                case 2:
                    bytes.Insert(at, m.Value);
                    break;
                case 3 when bytes.Count > 0:
                    bytes.RemoveRange(at, Math.Min(m.Length, bytes.Count - at));
                    break;
                case 4 when bytes.Count > 0:
                    bytes.InsertRange(at, bytes.GetRange(at, Math.Min(m.Length, bytes.Count - at)));
                    break;
                case 5:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                case 6:
                    bytes.InsertRange(at, Tokens[m.Value % Tokens.Length]);
                    break;
                case 7 when bytes.Count >= 4:
                    at = Math.Min(at, bytes.Count - 4);
                    var le = Int32s[m.Value % Int32s.Length];
                    for (var i = 0; i < 4; i++)
                    {
                        bytes[at + i] = (byte)(le >> (8 * i));
                    }

                    break;
                default:
                    // Kind 8 (and an edit that does not apply to an empty stream): replace a run of digits with a token.
                    var digit = bytes.FindIndex(at, b => b is >= (byte)'0' and <= (byte)'9');
                    if (digit >= 0)
                    {
                        var end = digit;
                        while (end < bytes.Count && bytes[end] is >= (byte)'0' and <= (byte)'9')
                        {
                            end++;
                        }

                        bytes.RemoveRange(digit, end - digit);
                        bytes.InsertRange(digit, Tokens[m.Value % Tokens.Length]);
                    }

                    break;
            }
        }

        return [.. bytes];
    }

    /// <summary>The stream cut at the split points: the chunks in order, each a segment of its own.</summary>
    public static List<byte[]> Chunk(byte[] data, int[] splits)
    {
        var chunks = new List<byte[]>();
        var offset = 0;
        for (var i = 0; offset < data.Length; i++)
        {
            var size = (int)Math.Min(splits[i % splits.Length], data.Length - offset);
            chunks.Add(data.AsSpan(offset, size).ToArray());
            offset += size;
        }

        return chunks;
    }

    /// <summary>A short printable rendering of a case for a failure message.</summary>
    public static string Show(byte[] data, int[] splits)
    {
        var text = new StringBuilder();
        foreach (var b in data.AsSpan(0, Math.Min(data.Length, 400)))
        {
            text.Append(b is >= 32 and < 127 and not (byte)'\\' ? (char)b : $"\\x{b:x2}");
        }

        return $"{data.Length} bytes in chunks [{string.Join(',', splits)}]: {text}{(data.Length > 400 ? "..." : string.Empty)}";
    }

    /// <summary>Builds a multi-segment sequence over the chunks (a frame straddling segments is the case parsers get wrong).</summary>
    public static ReadOnlySequence<byte> Sequence(IReadOnlyList<byte[]> chunks, int count)
    {
        if (count == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        var first = new Segment(chunks[0], 0);
        var last = first;
        for (var i = 1; i < count; i++)
        {
            last = last.Append(chunks[i]);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
