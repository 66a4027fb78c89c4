namespace Cache.Engine;

/// <summary>
/// What <see cref="BlockStore.GetVersion"/> saw of a key: the entry, its bytes, their in-place write count and
/// the expiration. Compare two with <see cref="Equals(KeyVersion)"/>; the default value means "absent". It holds
/// references to the store's objects, so keep it only as long as a transaction watches the key. Immutable.
/// </summary>
public readonly struct KeyVersion : IEquatable<KeyVersion>
{
    private readonly object? _entry;
    private readonly object? _data;
    private readonly int _offset;
    private readonly int _writes;
    private readonly long _expiresAt;

    /// <param name="entry">The index's entry, or the chunk a sample record lives in.</param>
    /// <param name="data">The entry's bytes (null for a sample record: its chunk and offset place it).</param>
    /// <param name="offset">A sample record's offset in its chunk (0 for an entry).</param>
    /// <param name="writes">The in-place write count.</param>
    /// <param name="expiresAt">The expiration, 0 for none.</param>
    internal KeyVersion(object entry, object? data, int offset, int writes, long expiresAt)
    {
        _entry = entry;
        _data = data;
        _offset = offset;
        _writes = writes;
        _expiresAt = expiresAt;
    }

    /// <summary>True when the key was present.</summary>
    public bool Exists => _entry is not null;

    /// <inheritdoc/>
    public bool Equals(KeyVersion other) =>
        ReferenceEquals(_entry, other._entry) && ReferenceEquals(_data, other._data) && _offset == other._offset && _writes == other._writes && _expiresAt == other._expiresAt;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is KeyVersion other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(_entry, _offset, _writes, _expiresAt);

    /// <summary>Equal versions.</summary>
    public static bool operator ==(KeyVersion left, KeyVersion right) => left.Equals(right);

    /// <summary>Different versions.</summary>
    public static bool operator !=(KeyVersion left, KeyVersion right) => !left.Equals(right);
}
