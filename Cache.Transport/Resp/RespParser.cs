using System.Buffers.Text;

namespace Cache.Transport.Resp;

/// <summary>The outcome of a <see cref="RespParser"/> parse.</summary>
internal enum ParseStatus
{
    /// <summary>A command was parsed; its arguments are in the <see cref="RespRequest"/>.</summary>
    Complete = 0,

    /// <summary>The buffer ends inside a command: more bytes are needed. Nothing was consumed.</summary>
    Incomplete = 1,

    /// <summary>Bytes were consumed that hold no command (an empty inline line, <c>*0</c>).</summary>
    Empty = 2,

    /// <summary>The bytes break the protocol or a limit; the connection must get the error and be closed.</summary>
    Error = 3,
}

/// <summary>
/// Parses RESP commands (multibulk arrays of bulk strings, and inline commands) from contiguous bytes,
/// as Redis's server does, with Redis's protocol error texts. Never throws on bad input and never
/// allocates from a length a client claims. Stateless; thread-safe.
/// </summary>
internal static class RespParser
{
    // Redis's limits for a client that has not authenticated yet: a password-protected server must not
    // buffer large frames for strangers.
    private const int UnauthenticatedMultibulk = 10;
    private const int UnauthenticatedBulk = 16384;

    /// <summary>
    /// Parses one command from the start of <paramref name="buffer"/>.
    /// </summary>
    /// <param name="buffer">Received bytes, starting at a command boundary.</param>
    /// <param name="request">Receives the arguments (ranges into <paramref name="buffer"/>, or into its inline scratch).</param>
    /// <param name="limits">The limits to enforce.</param>
    /// <param name="authenticated">False while a password-protected connection has not authenticated: frames are then limited as Redis limits them.</param>
    /// <param name="consumed">Bytes the command (or the empty frame) took, for Complete and Empty.</param>
    /// <param name="needed">For Incomplete: the buffer length at which parsing can make progress.</param>
    /// <param name="error">For Error: the error text without the leading '-' (e.g. "ERR Protocol error: invalid bulk length").</param>
    public static ParseStatus TryParse(ReadOnlySpan<byte> buffer, RespRequest request, in RespLimits limits, bool authenticated, out int consumed, out long needed, out string? error) =>
        TryParse(buffer, request, limits, authenticated, resume: false, out consumed, out needed, out error);

    /// <summary>
    /// As the other overload; with <paramref name="resume"/>, a multibulk command that the last call on
    /// <paramref name="request"/> left incomplete goes on from its first unparsed element, so that a command
    /// arriving one element at a time costs linear work, not quadratic. The caller passes the same bytes
    /// (the command starting at offset 0) followed by more.
    /// </summary>
    public static ParseStatus TryParse(ReadOnlySpan<byte> buffer, RespRequest request, in RespLimits limits, bool authenticated, bool resume, out int consumed, out long needed, out string? error)
    {
        ArgumentNullException.ThrowIfNull(request);
        consumed = 0;
        needed = 0;
        error = null;
        if (buffer.IsEmpty)
        {
            needed = 1;
            return ParseStatus.Incomplete;
        }

        if (!(resume && request.Resumable))
        {
            request.EndResume();
        }

        var status = buffer[0] == (byte)'*'
            ? ParseMultibulk(buffer, request, limits, authenticated, out consumed, out needed, out error)
            : ParseInline(buffer, request, limits, out consumed, out needed, out error);
        if (status != ParseStatus.Incomplete)
        {
            request.EndResume();
        }

        return status;
    }

    private static ParseStatus ParseMultibulk(ReadOnlySpan<byte> buffer, RespRequest request, in RespLimits limits, bool authenticated, out int consumed, out long needed, out string? error)
    {
        consumed = 0;
        needed = 0;
        error = null;
        if (request.Resumable)
        {
            return ParseElements(buffer, request, limits, authenticated, request.ResumeCount, request.Count, request.ResumePosition, out consumed, out needed, out error);
        }

        var lineEnd = FindLineEnd(buffer, 1, limits.MaxInlineLength);
        if (lineEnd < 0)
        {
            return LineIncompleteOrTooBig(buffer.Length, limits, "ERR Protocol error: too big mbulk count string", out needed, out error);
        }

        if (!TryParseLong(buffer[1..lineEnd], out var count) || count > limits.MaxMultibulkLength)
        {
            error = "ERR Protocol error: invalid multibulk length";
            return ParseStatus.Error;
        }

        if (!authenticated && count > UnauthenticatedMultibulk)
        {
            error = "ERR Protocol error: unauthenticated multibulk length";
            return ParseStatus.Error;
        }

        var pos = lineEnd + 2;
        if (count <= 0)
        {
            consumed = pos;
            return ParseStatus.Empty;
        }

        request.Reset(inline: false);
        return ParseElements(buffer, request, limits, authenticated, count, 0, pos, out consumed, out needed, out error);
    }

    /// <summary>Parses elements <paramref name="first"/> to <paramref name="count"/> - 1, the first at <paramref name="pos"/>; on Incomplete, remembers where it stopped.</summary>
    private static ParseStatus ParseElements(ReadOnlySpan<byte> buffer, RespRequest request, in RespLimits limits, bool authenticated, long count, int first, int pos, out int consumed, out long needed, out string? error)
    {
        consumed = 0;
        needed = 0;
        error = null;
        int lineEnd;
        for (var i = first; i < count; i++)
        {
            if (pos >= buffer.Length)
            {
                needed = pos + 1;
                request.Suspend(count, pos);
                return ParseStatus.Incomplete;
            }

            if (buffer[pos] != (byte)'$')
            {
                error = $"ERR Protocol error: expected '$', got '{Printable(buffer[pos])}'";
                return ParseStatus.Error;
            }

            lineEnd = FindLineEnd(buffer, pos + 1, limits.MaxInlineLength);
            if (lineEnd < 0)
            {
                request.Suspend(count, pos);
                return LineIncompleteOrTooBig(buffer.Length - pos, limits, "ERR Protocol error: too big bulk count string", out needed, out error, offset: pos);
            }

            if (!TryParseLong(buffer[(pos + 1)..lineEnd], out var length) || length < 0 || length > limits.MaxBulkLength)
            {
                error = "ERR Protocol error: invalid bulk length";
                return ParseStatus.Error;
            }

            if (!authenticated && length > UnauthenticatedBulk)
            {
                error = "ERR Protocol error: unauthenticated bulk length";
                return ParseStatus.Error;
            }

            var start = lineEnd + 2;
            var end = start + length + 2;
            if (end > buffer.Length)
            {
                needed = end;
                request.Suspend(count, pos);
                return ParseStatus.Incomplete;
            }

            if (buffer[(int)end - 2] != (byte)'\r' || buffer[(int)end - 1] != (byte)'\n')
            {
                error = "ERR Protocol error: invalid bulk terminator";
                return ParseStatus.Error;
            }

            request.Add(start, (int)length);
            pos = (int)end;
        }

        consumed = pos;
        return ParseStatus.Complete;
    }

    private static ParseStatus ParseInline(ReadOnlySpan<byte> buffer, RespRequest request, in RespLimits limits, out int consumed, out long needed, out string? error)
    {
        consumed = 0;
        needed = 0;
        error = null;
        var searched = Math.Min(buffer.Length, limits.MaxInlineLength + 1);
        var newline = buffer[..searched].IndexOf((byte)'\n');
        if (newline < 0)
        {
            if (buffer.Length > limits.MaxInlineLength)
            {
                error = "ERR Protocol error: too big inline request";
                return ParseStatus.Error;
            }

            needed = buffer.Length + 1;
            return ParseStatus.Incomplete;
        }

        var line = buffer[..newline];
        if (!line.IsEmpty && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }

        request.Reset(inline: true);
        var scratch = request.InlineScratch(line.Length);
        if (!SplitArgs(line, scratch, request))
        {
            error = "ERR Protocol error: unbalanced quotes in request";
            return ParseStatus.Error;
        }

        consumed = newline + 1;
        return request.Count == 0 ? ParseStatus.Empty : ParseStatus.Complete;
    }

    /// <summary>Splits an inline line as Redis's sdssplitargs: spaces separate, "double" quotes take escapes, 'single' quotes take \'.</summary>
    private static bool SplitArgs(ReadOnlySpan<byte> line, Span<byte> output, RespRequest request)
    {
        var p = 0;
        var o = 0;
        while (true)
        {
            while (p < line.Length && IsSpace(line[p]))
            {
                p++;
            }

            if (p >= line.Length)
            {
                return true;
            }

            var start = o;
            var inDouble = false;
            var inSingle = false;
            var done = false;
            while (!done)
            {
                if (inDouble)
                {
                    if (p >= line.Length)
                    {
                        return false;
                    }

                    if (line[p] == (byte)'\\' && p + 3 < line.Length && line[p + 1] == (byte)'x' && IsHex(line[p + 2]) && IsHex(line[p + 3]))
                    {
                        output[o++] = (byte)((HexValue(line[p + 2]) << 4) | HexValue(line[p + 3]));
                        p += 3;
                    }
                    else if (line[p] == (byte)'\\' && p + 1 < line.Length)
                    {
                        p++;
                        output[o++] = line[p] switch
                        {
                            (byte)'n' => (byte)'\n',
                            (byte)'r' => (byte)'\r',
                            (byte)'t' => (byte)'\t',
                            (byte)'b' => (byte)'\b',
                            (byte)'a' => (byte)'\a',
                            var other => other,
                        };
                    }
                    else if (line[p] == (byte)'"')
                    {
                        // A closing quote must be followed by a space or the end.
                        if (p + 1 < line.Length && !IsSpace(line[p + 1]))
                        {
                            return false;
                        }

                        done = true;
                    }
                    else
                    {
                        output[o++] = line[p];
                    }
                }
                else if (inSingle)
                {
                    if (p >= line.Length)
                    {
                        return false;
                    }

                    if (line[p] == (byte)'\\' && p + 1 < line.Length && line[p + 1] == (byte)'\'')
                    {
                        p++;
                        output[o++] = (byte)'\'';
                    }
                    else if (line[p] == (byte)'\'')
                    {
                        if (p + 1 < line.Length && !IsSpace(line[p + 1]))
                        {
                            return false;
                        }

                        done = true;
                    }
                    else
                    {
                        output[o++] = line[p];
                    }
                }
                else if (p >= line.Length || IsSpace(line[p]))
                {
                    done = true;
                }
                else if (line[p] == (byte)'"')
                {
                    inDouble = true;
                }
                else if (line[p] == (byte)'\'')
                {
                    inSingle = true;
                }
                else
                {
                    output[o++] = line[p];
                }

                if (p < line.Length)
                {
                    p++;
                }
            }

            request.Add(start, o - start);
        }
    }

    private static ParseStatus LineIncompleteOrTooBig(int available, in RespLimits limits, string tooBig, out long needed, out string? error, int offset = 0)
    {
        error = null;
        needed = 0;
        if (available > limits.MaxInlineLength)
        {
            error = tooBig;
            return ParseStatus.Error;
        }

        needed = offset + available + 1;
        return ParseStatus.Incomplete;
    }

    /// <summary>The index of the '\r' of the first "\r\n" at or after <paramref name="from"/>, searching at most <paramref name="maxLine"/> bytes; -1 if none.</summary>
    private static int FindLineEnd(ReadOnlySpan<byte> buffer, int from, int maxLine)
    {
        var window = buffer[from..Math.Min(buffer.Length, from + maxLine + 2)];
        var cr = window.IndexOf((byte)'\r');
        while (cr >= 0)
        {
            if (cr + 1 < window.Length)
            {
                if (window[cr + 1] == (byte)'\n')
                {
                    return from + cr;
                }

                var next = window[(cr + 1)..].IndexOf((byte)'\r');
                cr = next < 0 ? -1 : cr + 1 + next;
            }
            else
            {
                return -1;
            }
        }

        return -1;
    }

    /// <summary>
    /// Recognizes, at the start of <paramref name="buffer"/>, a complete multibulk GET of one key or SET of
    /// one key and value without options (<c>*2\r\n$3\r\nGET\r\n$N\r\nkey\r\n</c>, the command's name
    /// in any case): the key's place and the frame's length. False for anything else, an incomplete frame
    /// included. Only a hint for looking ahead in a pipeline: the frame is still parsed and checked by
    /// <see cref="TryParse(ReadOnlySpan{byte}, RespRequest, in RespLimits, bool, out int, out long, out string?)"/>.
    /// </summary>
    public static bool TryMatchGetOrSet(ReadOnlySpan<byte> buffer, out Range key, out int frameLength)
    {
        key = default;
        frameLength = 0;
        if (buffer.Length < 18 || buffer[0] != '*' || !buffer[2..8].SequenceEqual("\r\n$3\r\n"u8) || !buffer[11..13].SequenceEqual("\r\n"u8))
        {
            return false;
        }

        var name = buffer[8..11];
        var isSet = buffer[1] == '3' && (name[0] | 0x20) == 's';
        if (!(isSet || (buffer[1] == '2' && (name[0] | 0x20) == 'g')) || (name[1] | 0x20) != 'e' || (name[2] | 0x20) != 't')
        {
            return false;
        }

        if (!TryMatchBulk(buffer, 13, out key, out frameLength))
        {
            return false;
        }

        return !isSet || TryMatchBulk(buffer, frameLength, out _, out frameLength);
    }

    /// <summary>A whole bulk string (<c>$N\r\n...\r\n</c>) at <paramref name="at"/>: its content and the offset after it.</summary>
    private static bool TryMatchBulk(ReadOnlySpan<byte> buffer, int at, out Range content, out int next)
    {
        content = default;
        next = 0;
        if (at >= buffer.Length || buffer[at] != '$')
        {
            return false;
        }

        // At most 9 digits, so that the length fits an int.
        var digitsAt = ++at;
        var length = 0;
        while (at < buffer.Length && at < digitsAt + 9 && buffer[at] is >= (byte)'0' and <= (byte)'9')
        {
            length = (length * 10) + (buffer[at] - '0');
            at++;
        }

        if (at == digitsAt || at + 2 > buffer.Length || buffer[at] != '\r' || buffer[at + 1] != '\n')
        {
            return false;
        }

        // Compared as a difference, so that no sum can overflow whatever the buffer's size.
        var start = at + 2;
        if (length > buffer.Length - start - 2)
        {
            return false;
        }

        var end = start + length;
        if (buffer[end] != '\r' || buffer[end + 1] != '\n')
        {
            return false;
        }

        content = new Range(start, end);
        next = end + 2;
        return true;
    }

    /// <summary>Parses a decimal integer as Redis's string2ll: an optional '-', digits, nothing else.</summary>
    public static bool TryParseLong(ReadOnlySpan<byte> text, out long value)
    {
        value = 0;
        if (text.IsEmpty || text.Length > 20 || text[0] == (byte)'+' || (text.Length > 1 && text[0] == (byte)'0'))
        {
            return text.Length == 1 && text[0] == (byte)'0';
        }

        if (text.Length > 1 && text[0] == (byte)'-' && text[1] == (byte)'0')
        {
            // "-0" and "-01": Redis's string2ll accepts neither.
            return false;
        }

        return Utf8Parser.TryParse(text, out value, out var used) && used == text.Length;
    }

    private static bool IsSpace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\v' or (byte)'\f' or (byte)'\r';

    private static bool IsHex(byte b) => char.IsAsciiHexDigit((char)b);

    private static int HexValue(byte b) => b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10;

    private static char Printable(byte b) => b is >= 0x20 and < 0x7F ? (char)b : '?';
}
