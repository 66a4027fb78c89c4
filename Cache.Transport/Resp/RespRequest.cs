namespace Cache.Transport.Resp;

/// <summary>Where one argument lies in the bytes a command was parsed from.</summary>
/// <param name="Start">Offset of the first byte.</param>
/// <param name="Length">Length in bytes.</param>
internal readonly record struct ArgRange(int Start, int Length);

/// <summary>
/// The parse state of one connection, reused for every command it sends so that parsing allocates
/// nothing once the arrays have grown to the connection's largest command. Not thread-safe: one per connection.
/// </summary>
internal sealed class RespRequest
{
    private ArgRange[] _args = new ArgRange[8];
    private byte[] _inline = [];

    /// <summary>Arguments of the last complete command (the command name first).</summary>
    public int Count { get; private set; }

    /// <summary>True when the last command was inline (its arguments live in <see cref="InlineBytes"/>, not in the frame).</summary>
    public bool IsInline { get; private set; }

    /// <summary>The argument ranges of the last command.</summary>
    public ReadOnlySpan<ArgRange> Args => _args.AsSpan(0, Count);

    /// <summary>The unescaped bytes of an inline command's arguments.</summary>
    public ReadOnlySpan<byte> InlineBytes => _inline;

    /// <summary>True when the last parse stopped inside a multibulk command and can go on from where it stopped
    /// (given the same bytes again, with more after them), instead of parsing the elements it already has again.</summary>
    internal bool Resumable { get; private set; }

    /// <summary>Elements the command declares (valid while <see cref="Resumable"/>).</summary>
    internal long ResumeCount { get; private set; }

    /// <summary>Offset of the first element not yet parsed (valid while <see cref="Resumable"/>).</summary>
    internal int ResumePosition { get; private set; }

    internal void Reset(bool inline)
    {
        Count = 0;
        IsInline = inline;
        Resumable = false;
    }

    internal void Suspend(long count, int position)
    {
        Resumable = true;
        ResumeCount = count;
        ResumePosition = position;
    }

    internal void EndResume() => Resumable = false;

    internal void Add(int start, int length)
    {
        if (Count == _args.Length)
        {
            // Grows with elements actually parsed, never with the count a header claims.
            Array.Resize(ref _args, _args.Length * 2);
        }

        _args[Count++] = new ArgRange(start, length);
    }

    internal Span<byte> InlineScratch(int length)
    {
        if (_inline.Length < length)
        {
            _inline = new byte[Math.Max(length, 256)];
        }

        return _inline;
    }
}
