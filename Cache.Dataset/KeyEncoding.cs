using System.Globalization;
using System.Text;
using Cache.Engine;

namespace Cache.Dataset;

/// <summary>Builds full keys: the dataset's prefix (<c>{name}:</c>) followed by the UTF-8 of the sample's key.</summary>
internal static class KeyEncoding
{
    /// <summary>Keys up to this length are built on the stack for lookups.</summary>
    public const int StackLimit = 256;

    /// <summary>The dataset side's one builder of the key prefix: UTF-8 of <c>{datasetName}:</c>.</summary>
    public static byte[] Prefix(string datasetName) => Encoding.UTF8.GetBytes(datasetName + ":");

    public static int MaxLength(ReadOnlySpan<byte> prefix, string key) => prefix.Length + Encoding.UTF8.GetMaxByteCount(key.Length);

    public static int Write(ReadOnlySpan<byte> prefix, string key, Span<byte> destination)
    {
        prefix.CopyTo(destination);
        return prefix.Length + Encoding.UTF8.GetBytes(key, destination[prefix.Length..]);
    }

    public static int Write(ReadOnlySpan<byte> prefix, int index, Span<byte> destination)
    {
        prefix.CopyTo(destination);
        index.TryFormat(destination[prefix.Length..], out var written, default, CultureInfo.InvariantCulture);
        return prefix.Length + written;
    }

    public static StoreKey Create(ReadOnlySpan<byte> prefix, string key)
    {
        var bytes = new byte[prefix.Length + Encoding.UTF8.GetByteCount(key)];
        Write(prefix, key, bytes);
        return StoreKey.FromOwned(bytes);
    }

    public static StoreKey Create(ReadOnlySpan<byte> prefix, int index)
    {
        Span<byte> scratch = stackalloc byte[StackLimit];
        var length = Write(prefix, index, scratch);
        return StoreKey.Copy(scratch[..length]);
    }
}
