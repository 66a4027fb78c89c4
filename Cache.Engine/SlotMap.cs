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

    private SlotMap(int memberCount, ushort[] owner)
    {
        _memberCount = memberCount;
        _owner = owner;
    }

    /// <summary>
    /// The map of <paramref name="memberCount"/> members after the members flagged in <paramref name="down"/>
    /// left it: each one's range is split into contiguous, equal pieces handed to the remaining members in rank
    /// order; every other slot keeps its owner. The same member count and the same members down give the same
    /// map on every node, so members agree without talking; only the slots of the members down move, and they
    /// move back when those members return. With no member down (or none left) it is the plain map.
    /// </summary>
    public static SlotMap Without(int memberCount, ReadOnlySpan<bool> down)
    {
        var map = new SlotMap(memberCount);
        var live = new List<int>(memberCount);
        for (var m = 0; m < memberCount; m++)
        {
            if (m >= down.Length || !down[m])
            {
                live.Add(m);
            }
        }

        if (live.Count == memberCount || live.Count == 0)
        {
            return map;
        }

        var owner = map._owner;
        for (var d = 0; d < memberCount; d++)
        {
            if (live.Contains(d))
            {
                continue;
            }

            var (start, end) = map.RangeOf(d);
            var length = end - start + 1;
            for (var j = 0; j < live.Count; j++)
            {
                var from = start + (int)((long)j * length / live.Count);
                var to = start + (int)((long)(j + 1) * length / live.Count);
                owner.AsSpan(from, to - from).Fill((ushort)live[j]);
            }
        }

        return new SlotMap(memberCount, owner);
    }

    /// <summary>The contiguous ranges of slots (first and last, inclusive) a member owns, in slot order; empty for a member that owns none.</summary>
    public IReadOnlyList<(int Start, int End)> RangesOf(int member)
    {
        var ranges = new List<(int, int)>();
        var start = -1;
        for (var slot = 0; slot <= _owner.Length; slot++)
        {
            var mine = slot < _owner.Length && _owner[slot] == member;
            if (mine && start < 0)
            {
                start = slot;
            }
            else if (!mine && start >= 0)
            {
                ranges.Add((start, slot - 1));
                start = -1;
            }
        }

        return ranges;
    }

    /// <summary>True when both maps give every slot the same owner.</summary>
    public bool SameOwners(SlotMap other) => other is not null && _owner.AsSpan().SequenceEqual(other._owner);

    /// <summary>The number of members.</summary>
    public int MemberCount => _memberCount;

    /// <summary>The member that owns a slot.</summary>
    public int OwnerOfSlot(int slot) => _owner[slot];

    /// <summary>The member that owns a key.</summary>
    public int OwnerOfKey(ReadOnlySpan<byte> key) => _owner[HashSlot.GetSlot(key)];

    /// <summary>The first and last slot (inclusive) of a member's range in the plain map (before any member left it).</summary>
    public (int Start, int End) RangeOf(int member)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(member);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(member, _memberCount);
        var start = (int)((long)member * HashSlot.SlotCount / _memberCount);
        var end = (int)((long)(member + 1) * HashSlot.SlotCount / _memberCount) - 1;
        return (start, end);
    }
}
