namespace Cache.Engine;

/// <summary>
/// Which member owns each of the 16384 hash slots. Slots are split into contiguous, equal ranges
/// over the members in rank order: member <c>i</c> of <c>n</c> owns
/// [<c>i * 16384 / n</c>, <c>(i + 1) * 16384 / n</c>). Immutable; thread-safe.
/// </summary>
public sealed class SlotMap
{
    private readonly ushort[] _owner;
    private readonly int _memberCount;

    /// <summary>Splits the slots over <paramref name="memberCount"/> members (1 to 16384).</summary>
    public SlotMap(int memberCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(memberCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(memberCount, HashSlot.SlotCount);
        _memberCount = memberCount;
        _owner = new ushort[HashSlot.SlotCount];
        for (var member = 0; member < memberCount; member++)
        {
            var (start, end) = RangeOf(member);
            _owner.AsSpan(start, end - start + 1).Fill((ushort)member);
        }
    }

    /// <summary>The number of members.</summary>
    public int MemberCount => _memberCount;

    /// <summary>The member that owns a slot.</summary>
    public int OwnerOfSlot(int slot) => _owner[slot];

    /// <summary>The member that owns a key.</summary>
    public int OwnerOfKey(ReadOnlySpan<byte> key) => _owner[HashSlot.GetSlot(key)];

    /// <summary>The first and last slot (inclusive) of a member's range.</summary>
    public (int Start, int End) RangeOf(int member)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(member);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(member, _memberCount);
        var start = (int)((long)member * HashSlot.SlotCount / _memberCount);
        var end = (int)((long)(member + 1) * HashSlot.SlotCount / _memberCount) - 1;
        return (start, end);
    }
}
