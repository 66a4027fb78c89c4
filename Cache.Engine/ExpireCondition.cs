namespace Cache.Engine;

/// <summary>Preconditions on setting an expiration, as the options of Redis's EXPIRE; they combine (XX with GT or LT).</summary>
[Flags]
public enum ExpireCondition
{
    /// <summary>Always set it.</summary>
    Always = 0,

    /// <summary>Only when the key has no expiration (<c>NX</c>).</summary>
    IfNone = 1,

    /// <summary>Only when the key has an expiration (<c>XX</c>).</summary>
    IfAny = 2,

    /// <summary>Only when the new expiration is later than the present one; no expiration counts as infinite (<c>GT</c>).</summary>
    IfGreater = 4,

    /// <summary>Only when the new expiration is earlier than the present one; no expiration counts as infinite (<c>LT</c>).</summary>
    IfLess = 8,
}

/// <summary>The outcome of <see cref="BlockStore.UpdateExpiration"/>.</summary>
public enum ExpireResult
{
    /// <summary>The key is absent.</summary>
    NotFound = 0,

    /// <summary>The condition did not hold; nothing changed.</summary>
    NotApplied = 1,

    /// <summary>The expiration was set (or, for a time already past, the key was deleted).</summary>
    Applied = 2,
}

/// <summary>
/// Computes a key's new value from its present one, under the key's lock (so that read-modify-write
/// commands such as INCR and APPEND are atomic). Return null to leave the key unchanged; the store copies
/// the returned bytes.
/// </summary>
/// <param name="current">The present value (empty when absent); valid only during the call.</param>
/// <param name="exists">Whether the key is present.</param>
/// <param name="state">The caller's state, also the way to hand results back.</param>
public delegate byte[]? ValueTransform<TState>(ReadOnlySpan<byte> current, bool exists, ref TState state);
