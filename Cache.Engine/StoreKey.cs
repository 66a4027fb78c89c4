namespace Cache.Engine;

/// <summary>
/// A binary-safe key with byte-wise equality and a precomputed, per-process randomized hash
/// (so a client choosing keys cannot force hash collisions). Used as the index key of a
/// <see cref="BlockStore"/>.
/// </summary>
/// <remarks>
/// An instance made with <see cref="FromOwned(byte[])"/> or <see cref="Copy(ReadOnlySpan{byte})"/>
/// is immutable and thread-safe. The store keeps the array it is given: the caller must not change
/// it afterwards.
/// </remarks>
public sealed class StoreKey : IEquatable<StoreKey>
{
    private byte[] _bytes;
    private int _length;
    private int _hash;

    private StoreKey(byte[] bytes, int length)
    {
        _bytes = bytes;
        _length = length;
        _hash = HashOf(bytes.AsSpan(0, length));
    }

    /// <summary>The key's bytes. Never change them.</summary>
    public ReadOnlySpan<byte> Span => _bytes.AsSpan(0, _length);

    /// <summary>The key's bytes as memory. Never change them.</summary>
    public ReadOnlyMemory<byte> Memory => _bytes.AsMemory(0, _length);

    /// <summary>The key's length in bytes.</summary>
    public int Length => _length;

    /// <summary>Wraps <paramref name="bytes"/> without copying; the key owns the array from now on.</summary>
    public static StoreKey FromOwned(byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        return new StoreKey(bytes, bytes.Length);
    }

    /// <summary>Copies <paramref name="bytes"/> into a new key.</summary>
    public static StoreKey Copy(ReadOnlySpan<byte> bytes) => new(bytes.ToArray(), bytes.Length);

    /// <inheritdoc />
    public bool Equals(StoreKey? other) =>
        other is not null && other._hash == _hash && Span.SequenceEqual(other.Span);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is StoreKey key ? Equals(key) : obj is StoreEntry entry && entry.Equals(this);

    /// <inheritdoc />
    public override int GetHashCode() => _hash;

    /// <summary>The key as text, with non-printable bytes escaped (for logs and diagnostics).</summary>
    public override string ToString() => KeyText.Escape(Span);

    /// <summary>The hash a key of these bytes has (<see cref="GetHashCode"/>).</summary>
    internal static int HashOf(ReadOnlySpan<byte> bytes)
    {
        var hash = default(HashCode);
        hash.AddBytes(bytes);
        return hash.ToHashCode();
    }

    /// <summary>
    /// A per-thread reusable key for lookups only, so that a lookup by span allocates nothing. It is
    /// valid until the next call on the same thread: never store it, never insert it, never hold it
    /// across a call that may look another key up.
    /// </summary>
    public static StoreKey ForLookup(ReadOnlySpan<byte> bytes) => ForLookup(bytes, HashOf(bytes));

    /// <summary>As <see cref="ForLookup(ReadOnlySpan{byte})"/>, with the hash already computed by <see cref="HashOf"/>.</summary>
    internal static StoreKey ForLookup(ReadOnlySpan<byte> bytes, int hash)
    {
        const int MaxPooledKey = 4096;
        if (bytes.Length > MaxPooledKey)
        {
            return Copy(bytes);
        }

        var probe = t_probe ??= new StoreKey(new byte[256], 0);
        if (probe._bytes.Length < bytes.Length)
        {
            probe._bytes = new byte[Math.Max(bytes.Length, probe._bytes.Length * 2)];
        }

        bytes.CopyTo(probe._bytes);
        probe._length = bytes.Length;
        probe._hash = hash;
        return probe;
    }

    [ThreadStatic]
    private static StoreKey? t_probe;
}
