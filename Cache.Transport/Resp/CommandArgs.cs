using System.Text;

namespace Cache.Transport.Resp;

/// <summary>The arguments of one parsed command, as views into the bytes it was parsed from. Valid only while those bytes are.</summary>
internal readonly ref struct CommandArgs
{
    private readonly ReadOnlySpan<byte> _source;
    private readonly ReadOnlySpan<ArgRange> _ranges;

    public CommandArgs(ReadOnlySpan<byte> source, ReadOnlySpan<ArgRange> ranges)
    {
        _source = source;
        _ranges = ranges;
    }

    public int Count => _ranges.Length;

    public ReadOnlySpan<byte> this[int index] => _source.Slice(_ranges[index].Start, _ranges[index].Length);

    /// <summary>The bytes the arguments are views into.</summary>
    public ReadOnlySpan<byte> Source => _source;

    /// <summary>Where argument <paramref name="index"/> lies in <see cref="Source"/>.</summary>
    public Range RangeOf(int index) => new(_ranges[index].Start, _ranges[index].Start + _ranges[index].Length);

    public string Text(int index) => Encoding.UTF8.GetString(this[index]);

    /// <summary>True when argument <paramref name="index"/> equals <paramref name="upper"/> ignoring ASCII case (<paramref name="upper"/> is upper-case).</summary>
    public bool Is(int index, ReadOnlySpan<byte> upper)
    {
        var arg = this[index];
        if (arg.Length != upper.Length)
        {
            return false;
        }

        for (var i = 0; i < arg.Length; i++)
        {
            var b = arg[i];
            if ((b is >= (byte)'a' and <= (byte)'z' ? (byte)(b - 32) : b) != upper[i])
            {
                return false;
            }
        }

        return true;
    }
}
