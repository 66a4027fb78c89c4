namespace Cache.Engine;

/// <summary>The outcome of an insert into a <see cref="BlockStore"/>. Nothing is dropped without one.</summary>
public enum SetResult
{
    /// <summary>The key was absent and is now stored.</summary>
    Added = 0,

    /// <summary>The key was present; its value was replaced.</summary>
    Replaced = 1,

    /// <summary>The entry would not fit in the remaining budget and the policy does not evict (or could not free enough).</summary>
    RejectedFull = 2,

    /// <summary>The entry (key + value + per-entry overhead) is larger than the store's whole capacity.</summary>
    RejectedTooLarge = 3,

    /// <summary>A condition of the insert (only if absent, only if present) did not hold; nothing changed.</summary>
    ConditionNotMet = 4,

    /// <summary>The write did not reach the cache: the peer or server holding the key failed, timed out, or is skipped for a back-off window.</summary>
    Failed = 5,
}

/// <summary>Extension helpers for <see cref="SetResult"/>.</summary>
public static class SetResultExtensions
{
    /// <summary>True when the value is now stored (added or replaced).</summary>
    public static bool IsStored(this SetResult result) => result is SetResult.Added or SetResult.Replaced;
}
