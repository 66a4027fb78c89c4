using Cache.Engine;
using Cache.Tests.Support;

namespace Cache.Tests.Engine;

/// <summary>BlockStore.GetVersion: what WATCH compares.</summary>
public class KeyVersionTests
{
    private static BlockStore NewStore(TimeProvider? time = null) =>
        new(new BlockStoreOptions { Capacity = 1 << 20, TimeProvider = time ?? TimeProvider.System, ExpirationSweepInterval = TimeSpan.Zero });

    [Fact]
    public void Nothing_changed_means_the_same_version_and_reads_change_nothing()
    {
        using var store = NewStore();
        store.Set("k"u8, "v"u8);
        var before = store.GetVersion("k"u8);
        store.TryGet("k"u8, out _);
        store.ContainsKey("k"u8);
        Assert.Equal(before, store.GetVersion("k"u8));
        Assert.True(before.Exists);
        Assert.Equal(default, store.GetVersion("absent"u8));
        Assert.False(store.GetVersion("absent"u8).Exists);
    }

    [Fact]
    public void A_write_of_the_same_bytes_in_place_still_changes_the_version()
    {
        using var store = NewStore();
        store.Set("k"u8, "v1"u8);
        var before = store.GetVersion("k"u8);
        store.Set("k"u8, "v1"u8);
        Assert.NotEqual(before, store.GetVersion("k"u8));
    }

    [Fact]
    public void Remove_and_recreate_changes_the_version()
    {
        using var store = NewStore();
        store.Set("k"u8, "v"u8);
        var before = store.GetVersion("k"u8);
        store.Remove("k"u8);
        store.Set("k"u8, "v"u8);
        Assert.NotEqual(before, store.GetVersion("k"u8));
    }

    [Fact]
    public void A_new_expiration_and_an_expiry_change_the_version()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UnixEpoch.AddYears(56));
        using var store = NewStore(clock);
        store.Set("k"u8, "v"u8);
        var before = store.GetVersion("k"u8);
        store.TrySetExpiration("k"u8, store.NowUnixMs + 1000);
        var expiring = store.GetVersion("k"u8);
        Assert.NotEqual(before, expiring);
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.NotEqual(expiring, store.GetVersion("k"u8));
        Assert.False(store.GetVersion("k"u8).Exists);
    }

    [Fact]
    public void Resize_evicts_under_lru_and_refuses_under_retain()
    {
        using var lru = new BlockStore(new BlockStoreOptions { Capacity = 1 << 20, Policy = AdmissionPolicy.Lru });
        using var retain = new BlockStore(new BlockStoreOptions { Capacity = 1 << 20, Policy = AdmissionPolicy.Retain });
        var value = new byte[1000];
        for (var i = 0; i < 500; i++)
        {
            lru.Set(System.Text.Encoding.ASCII.GetBytes($"k{i}"), value);
            retain.Set(System.Text.Encoding.ASCII.GetBytes($"k{i}"), value);
        }

        lru.Resize(100_000);
        Assert.True(lru.BytesUsed <= 100_000);
        Assert.Equal(100_000, lru.Capacity);

        retain.Resize(100_000);
        Assert.Equal(500, retain.Count);
        Assert.Equal(SetResult.RejectedFull, retain.Set("new"u8, value));

        // Switched to an evicting policy with its samples in place: the table evicts them to make room.
        retain.ChangePolicy(AdmissionPolicy.Lru);
        Assert.True(retain.Set("new"u8, value).IsStored());
        retain.Resize(50_000);
        Assert.True(retain.BytesUsed <= 50_000);
        Assert.True(retain.ContainsKey("new"u8));
        for (var i = 0; i < 500; i++)
        {
            Assert.True(retain.Set(System.Text.Encoding.ASCII.GetBytes($"k{i}"), value).IsStored());
        }

        Assert.True(retain.BytesUsed <= 50_000);
        Assert.Equal(retain.Count, retain.SampleCount);
    }
}
