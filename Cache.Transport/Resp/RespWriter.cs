using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Cache.Transport.Resp;

/// <summary>
/// Writes RESP2 or RESP3 replies into a buffer writer (a connection's output pipe). The protocol
/// version changes with HELLO. Not thread-safe: one per connection. Values are copied into the writer;
/// the caller keeps ownership of what it passes.
/// </summary>
internal sealed class RespWriter
{
    private static readonly byte[] OkBytes = "+OK\r\n"u8.ToArray();
    private static readonly byte[] Null2 = "$-1\r\n"u8.ToArray();
    private static readonly byte[] NullArray2 = "*-1\r\n"u8.ToArray();
    private static readonly byte[] Null3 = "_\r\n"u8.ToArray();

    private IBufferWriter<byte> _output;

    /// <summary>Creates a writer over <paramref name="output"/>, speaking RESP2 until <see cref="Protocol"/> changes.</summary>
    public RespWriter(IBufferWriter<byte> output)
    {
        _output = output;
    }

    /// <summary>2 or 3.</summary>
    public int Protocol { get; set; } = 2;

    /// <summary>The buffer writer replies go to.</summary>
    public IBufferWriter<byte> Output => _output;

    /// <summary>Error replies written so far (for INFO commandstats' failed_calls).</summary>
    public long Errors { get; private set; }

    /// <summary>Sends the replies that follow to <paramref name="output"/> instead (CLIENT REPLY OFF sends them nowhere).</summary>
    internal void Redirect(IBufferWriter<byte> output) => _output = output;

    /// <summary>+OK</summary>
    public void Ok() => _output.Write(OkBytes);

    /// <summary>A simple string; must not contain CR or LF.</summary>
    public void SimpleString(ReadOnlySpan<byte> text) => Line((byte)'+', text);

    /// <summary>A simple string from ASCII text; must not contain CR or LF.</summary>
    public void SimpleString(string text) => LineAscii((byte)'+', text);

    /// <summary>An error reply; <paramref name="text"/> starts with its code (ERR, WRONGPASS, ...). CR and LF become spaces, as Redis does.</summary>
    public void Error(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        Errors++;
        LineAscii((byte)'-', text.Replace('\r', ' ').Replace('\n', ' '));
    }

    /// <summary>An integer.</summary>
    public void IntegerValue(long value)
    {
        var span = _output.GetSpan(24);
        span[0] = (byte)':';
        Utf8Formatter.TryFormat(value, span[1..], out var n);
        span[n + 1] = (byte)'\r';
        span[n + 2] = (byte)'\n';
        _output.Advance(n + 3);
    }

    /// <summary>A bulk string.</summary>
    public void Bulk(ReadOnlySpan<byte> value)
    {
        if (value.Length <= 4096)
        {
            _output.Advance(RespBulkFormat.Format(value, _output.GetSpan(value.Length + RespBulkFormat.MaxOverhead)));
        }
        else
        {
            RespBulkFormat.Write(value, _output);
        }
    }

    /// <summary>A bulk string from text (UTF-8).</summary>
    public void Bulk(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var count = Encoding.UTF8.GetByteCount(text);
        Header((byte)'$', count);
        var span = _output.GetSpan(count + 2);
        Encoding.UTF8.GetBytes(text, span);
        span[count] = (byte)'\r';
        span[count + 1] = (byte)'\n';
        _output.Advance(count + 2);
    }

    /// <summary>Text for people, as Redis sends INFO and LATENCY DOCTOR: a RESP3 verbatim string (<c>=</c>, format <c>txt</c>); a bulk string in RESP2.</summary>
    public void Verbatim(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (Protocol != 3)
        {
            Bulk(text);
            return;
        }

        var count = Encoding.UTF8.GetByteCount(text);
        Header((byte)'=', count + 4);
        var span = _output.GetSpan(count + 6);
        "txt:"u8.CopyTo(span);
        Encoding.UTF8.GetBytes(text, span[4..]);
        span[count + 4] = (byte)'\r';
        span[count + 5] = (byte)'\n';
        _output.Advance(count + 6);
    }

    /// <summary>The null bulk string (RESP2 <c>$-1</c>, RESP3 <c>_</c>).</summary>
    public void Null() => _output.Write(Protocol == 3 ? Null3 : Null2);

    /// <summary>The null array (RESP2 <c>*-1</c>, RESP3 <c>_</c>).</summary>
    public void NullArray() => _output.Write(Protocol == 3 ? Null3 : NullArray2);

    /// <summary>An array of <paramref name="count"/> elements, written next.</summary>
    public void ArrayHeader(int count) => Header((byte)'*', count);

    /// <summary>A map of <paramref name="pairs"/> key-value pairs (RESP3 <c>%</c>; in RESP2 a flat array of twice as many elements).</summary>
    public void MapHeader(int pairs)
    {
        if (Protocol == 3)
        {
            Header((byte)'%', pairs);
        }
        else
        {
            Header((byte)'*', pairs * 2);
        }
    }

    /// <summary>A set of <paramref name="count"/> elements (RESP3 <c>~</c>; an array in RESP2).</summary>
    public void SetHeader(int count) => Header(Protocol == 3 ? (byte)'~' : (byte)'*', count);

    /// <summary>A double (RESP3 <c>,</c>; a bulk string in RESP2).</summary>
    public void DoubleValue(double value)
    {
        var text = value.ToString("R", CultureInfo.InvariantCulture);
        if (Protocol == 3)
        {
            LineAscii((byte)',', text);
        }
        else
        {
            Bulk(text);
        }
    }

    private void Header(byte type, long count)
    {
        var span = _output.GetSpan(24);
        _output.Advance(Header(span, type, count));
    }

    /// <summary>Writes <c>{type}{count}\r\n</c> into <paramref name="span"/> (at least 24 bytes); returns its length.</summary>
    internal static int Header(Span<byte> span, byte type, long count)
    {
        span[0] = type;
        Utf8Formatter.TryFormat(count, span[1..], out var n);
        span[n + 1] = (byte)'\r';
        span[n + 2] = (byte)'\n';
        return n + 3;
    }

    private void Line(byte type, ReadOnlySpan<byte> text)
    {
        var span = _output.GetSpan(text.Length + 3);
        span[0] = type;
        text.CopyTo(span[1..]);
        span[text.Length + 1] = (byte)'\r';
        span[text.Length + 2] = (byte)'\n';
        _output.Advance(text.Length + 3);
    }

    private void LineAscii(byte type, string text)
    {
        var count = Encoding.UTF8.GetByteCount(text);
        var span = _output.GetSpan(count + 3);
        span[0] = type;
        Encoding.UTF8.GetBytes(text, span[1..]);
        span[count + 1] = (byte)'\r';
        span[count + 2] = (byte)'\n';
        _output.Advance(count + 3);
    }
}

/// <summary>Frames a value copied out of the store as a RESP bulk string (<c>$len\r\n...\r\n</c>).</summary>
internal readonly struct RespBulkFormat : Cache.Engine.IValueFormat
{
    public static int MaxOverhead => 24;

    public static int Format(ReadOnlySpan<byte> value, Span<byte> destination)
    {
        var n = RespWriter.Header(destination, (byte)'$', value.Length);
        value.CopyTo(destination[n..]);
        n += value.Length;
        destination[n] = (byte)'\r';
        destination[n + 1] = (byte)'\n';
        return n + 2;
    }

    public static void Write(ReadOnlySpan<byte> value, IBufferWriter<byte> output)
    {
        Span<byte> header = stackalloc byte[24];
        output.Write(header[..RespWriter.Header(header, (byte)'$', value.Length)]);
        output.Write(value);
        output.Write("\r\n"u8);
    }
}
