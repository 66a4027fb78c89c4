namespace Cache.Engine;

/// <summary>A precondition on an insert, as Redis's <c>NX</c> and <c>XX</c>.</summary>
public enum SetCondition
{
    /// <summary>Insert or replace.</summary>
    Always = 0,

    /// <summary>Insert only when the key is absent.</summary>
    IfAbsent = 1,

    /// <summary>Replace only when the key is present.</summary>
    IfPresent = 2,
}
