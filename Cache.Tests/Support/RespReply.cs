using System.Buffers;
using System.Globalization;
using System.Text;

namespace Cache.Tests.Support;

/// <summary>A simple-string reply (+OK).</summary>
internal sealed record Simple(string Text);

/// <summary>An error reply (-ERR ...).</summary>
internal sealed record Error(string Text);

/// <summary>Parses RESP2/RESP3 replies for assertions: simple → <see cref="Simple"/>, error → <see cref="Error"/>,
/// integer → long, bulk → string (UTF-8) or null, arrays/sets/maps → object?[] (maps flattened), double → double.</summary>
internal static class RespReply
{
    public static bool TryParse(ref ReadOnlySequence<byte> buffer, out object? reply)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (!TryParse(ref reader, out reply))
        {
            return false;
        }

        buffer = buffer.Slice(reader.Position);
        return true;
    }

    private static bool TryParse(ref SequenceReader<byte> reader, out object? reply)
    {
        reply = null;
        if (!reader.TryRead(out var type) || !reader.TryReadTo(out ReadOnlySequence<byte> lineBytes, "\r\n"u8))
        {
            return false;
        }

        var line = Encoding.UTF8.GetString(lineBytes);
        switch ((char)type)
        {
            case '+':
                reply = new Simple(line);
                return true;
            case '-':
                reply = new Error(line);
                return true;
            case ':':
                reply = long.Parse(line, CultureInfo.InvariantCulture);
                return true;
            case ',':
                reply = double.Parse(line, CultureInfo.InvariantCulture);
                return true;
            case '_':
                reply = null;
                return true;
            case '#':
                reply = line == "t";
                return true;
            case '$':
            case '=':
                var length = int.Parse(line, CultureInfo.InvariantCulture);
                if (length < 0)
                {
                    reply = null;
                    return true;
                }

                if (reader.Remaining < length + 2)
                {
                    return false;
                }

                var data = reader.UnreadSequence.Slice(0, length);
                reply = Encoding.UTF8.GetString(data);
                reader.Advance(length + 2);
                return true;
            case '*':
            case '~':
            case '%':
            case '>':
                var count = int.Parse(line, CultureInfo.InvariantCulture);
                if (count < 0)
                {
                    reply = null;
                    return true;
                }

                if (type == '%')
                {
                    count *= 2;
                }

                var items = new object?[count];
                for (var i = 0; i < count; i++)
                {
                    if (!TryParse(ref reader, out items[i]))
                    {
                        return false;
                    }
                }

                reply = items;
                return true;
            default:
                throw new InvalidDataException($"Unknown RESP type '{(char)type}'.");
        }
    }

    /// <summary>A command as a RESP multibulk frame.</summary>
    public static byte[] Command(params string[] args)
    {
        var text = new StringBuilder().Append('*').Append(args.Length).Append("\r\n");
        foreach (var arg in args)
        {
            text.Append('$').Append(Encoding.UTF8.GetByteCount(arg)).Append("\r\n").Append(arg).Append("\r\n");
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }
}
