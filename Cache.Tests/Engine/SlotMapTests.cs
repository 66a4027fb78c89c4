using Cache.Engine;

namespace Cache.Tests.Engine;

public class SlotMapTests
{
    [Fact]
    public void Without_moves_only_the_slots_of_the_members_that_left_and_splits_them_evenly_over_the_others()
    {
        var plain = new SlotMap(4);
        var map = SlotMap.Without(4, [false, false, true, false]);
        var gained = new int[4];
        for (var slot = 0; slot < HashSlot.SlotCount; slot++)
        {
            if (plain.OwnerOfSlot(slot) != 2)
            {
                Assert.Equal(plain.OwnerOfSlot(slot), map.OwnerOfSlot(slot));
            }
            else
            {
                Assert.NotEqual(2, map.OwnerOfSlot(slot));
                gained[map.OwnerOfSlot(slot)]++;
            }
        }

        Assert.Empty(map.RangesOf(2));
        Assert.Equal(0, gained[2]);
        Assert.InRange(gained.Where((_, m) => m != 2).Max() - gained.Where((_, m) => m != 2).Min(), 0, 1);
    }

    [Fact]
    public void Without_gives_every_member_the_same_map_from_the_same_members_down_and_the_plain_map_when_none_is()
    {
        var a = SlotMap.Without(5, [true, false, false, true, false]);
        var b = SlotMap.Without(5, [true, false, false, true, false]);
        Assert.True(a.SameOwners(b));
        Assert.False(a.SameOwners(new SlotMap(5)));
        Assert.True(SlotMap.Without(5, [false, false, false, false, false]).SameOwners(new SlotMap(5)));

        // No member left at all: nothing to hand slots to, so the plain map stands.
        Assert.True(SlotMap.Without(2, [true, true]).SameOwners(new SlotMap(2)));
    }

    [Fact]
    public void RangesOf_lists_a_members_contiguous_ranges_in_slot_order()
    {
        var map = SlotMap.Without(3, [false, true, false]);
        Assert.Equal([(0, 5460)], new SlotMap(3).RangesOf(0));

        // Member 1's range [5461, 10921] went half to member 0, half to member 2: each piece joins its neighbour's range.
        Assert.Equal([(0, 8190)], map.RangesOf(0));
        Assert.Equal([(8191, 16383)], map.RangesOf(2));
        var inner = SlotMap.Without(3, [false, false, true]);
        Assert.Equal([(0, 5460), (10922, 13652)], inner.RangesOf(0));
        Assert.Equal([(5461, 10921), (13653, 16383)], inner.RangesOf(1));
        Assert.Equal(HashSlot.SlotCount, map.RangesOf(0).Concat(map.RangesOf(2)).Sum(r => r.End - r.Start + 1));
    }
}
