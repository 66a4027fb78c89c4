using System.Text;
using Cache.Engine;

namespace Cache.Tests.Engine;

public class HashSlotTests
{
    private static byte[] K(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public void Crc16_of_the_specification_check_string_is_0x31C3()
    {
        Assert.Equal(0x31C3, HashSlot.Crc16(K("123456789")));
    }

    [Theory]
    [InlineData("foo", 12182)]
    [InlineData("bar", 5061)]
    [InlineData("hello", 866)]
    [InlineData("", 0)]
    public void Slots_match_what_Redis_reports(string key, int slot)
    {
        Assert.Equal(slot, HashSlot.GetSlot(K(key)));
    }

    [Fact]
    public void Keys_sharing_a_hash_tag_share_a_slot()
    {
        var a = HashSlot.GetSlot(K("{user1000}.following"));
        var b = HashSlot.GetSlot(K("{user1000}.followers"));
        Assert.Equal(a, b);
        Assert.Equal(HashSlot.GetSlot(K("user1000")), a);
    }

    [Theory]
    [InlineData("foo{}{bar}", "foo{}{bar}")]
    [InlineData("foo{{bar}}zap", "{bar")]
    [InlineData("foo{bar}{zap}", "bar")]
    [InlineData("{bar", "{bar")]
    public void Hash_tag_rules_follow_the_cluster_specification(string key, string hashed)
    {
        Assert.Equal(hashed, Encoding.UTF8.GetString(HashSlot.HashedPart(K(key))));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(7)]
    public void SlotMap_splits_all_slots_into_contiguous_equal_ranges_in_rank_order(int members)
    {
        var map = new SlotMap(members);
        var next = 0;
        for (var m = 0; m < members; m++)
        {
            var (start, end) = map.RangeOf(m);
            Assert.Equal(next, start);
            var size = end - start + 1;
            Assert.InRange(size, (HashSlot.SlotCount / members) - 1, (HashSlot.SlotCount / members) + 1);
            Assert.Equal(m, map.OwnerOfSlot(start));
            Assert.Equal(m, map.OwnerOfSlot(end));
            next = end + 1;
        }

        Assert.Equal(HashSlot.SlotCount, next);
        Assert.Equal(map.OwnerOfSlot(12182), map.OwnerOfKey(K("foo")));
    }
}
