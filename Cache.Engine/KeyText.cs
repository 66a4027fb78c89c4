using System.Text;

namespace Cache.Engine;

/// <summary>Renders binary keys as readable text for logs and diagnostics.</summary>
public static class KeyText
{
    /// <summary>Printable ASCII is kept, every other byte becomes <c>\xHH</c>. At most 200 bytes are shown.</summary>
    public static string Escape(ReadOnlySpan<byte> key)
    {
        const int MaxShown = 200;
        var builder = new StringBuilder(Math.Min(key.Length, MaxShown) + 8);
        foreach (var b in key[..Math.Min(key.Length, MaxShown)])
        {
            if (b is >= 0x20 and < 0x7F && b != (byte)'\\')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append("\\x").Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        if (key.Length > MaxShown)
        {
            builder.Append("...");
        }

        return builder.ToString();
    }
}
