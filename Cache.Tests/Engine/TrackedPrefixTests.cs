using Cache.Engine;
using Cache.Tests.Support;

namespace Cache.Tests.Engine;

/// <summary>Counts of tracked prefixes (a dataset's keys) kept as keys come and go, instead of a scan per count.</summary>
public class TrackedPrefixTests
{
    private static byte[] K(string s) => BlockStoreTests.K(s);

    [Fact]
    public void A_tracked_count_starts_from_the_keys_present_and_follows_every_way_in_and_out()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20000));
        var charge = BlockStore.ChargeFor(4, 100);
        using var store = BlockStoreTests.Store(charge * 5, AdmissionPolicy.Lru, clock);
        int Present() => new[] { "a:01", "a:02", "a:03", "a:04", "a:05", "a:06" }.Count(k => store.ContainsKey(K(k)));
        var value = new byte[100];
        store.Set(K("a:01"), value);
        store.Set(K("a:02"), value);
        store.Set(K("b:01"), value);

        store.TrackPrefix(K("a:"));
        store.TrackPrefix(K("a:"));
        Assert.Equal(2, store.CountKeys(K("a:")));

        store.Set(K("a:03"), value);
        store.Set(K("a:03"), new byte[100]);
        store.Set(K("a:04"), new byte[90]);
        store.Set(K("a:04"), new byte[100]);
        Assert.Equal(4, store.CountKeys(K("a:")));

        Assert.True(store.Remove(K("a:01")));
        Assert.False(store.Remove(K("a:01")));
        Assert.Equal(3, store.CountKeys(K("a:")));

        // More keys than fit: evictions take some of the a: keys.
        store.Set(K("c:01"), value);
        store.Set(K("c:02"), value);
        store.Set(K("c:03"), value);
        store.Set(K("c:04"), value);
        Assert.True(store.GetStatistics().Evicted >= 3);
        Assert.True(Present() < 3);
        Assert.Equal(Present(), store.CountKeys(K("a:")));

        // An expired key counts until it is reclaimed.
        store.Set(K("a:04"), value);
        var before = store.CountKeys(K("a:"));
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        Assert.True(store.TrySetExpiration(K("a:04"), now + 10));
        clock.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Equal(before, store.CountKeys(K("a:")));
        Assert.Equal(1, store.RemoveExpired());
        Assert.Equal(before - 1, store.CountKeys(K("a:")));

        store.Set(K("a:05"), value);
        Assert.Equal(Present(), store.RemoveKeys(K("a:")));
        Assert.Equal(0, store.CountKeys(K("a:")));
        store.Set(K("a:06"), value);
        store.Clear();
        Assert.Equal(0, store.CountKeys(K("a:")));

        // An untracked prefix is still counted by a scan.
        store.Set(K("c:09"), value);
        Assert.Equal(1, store.CountKeys(K("c:")));
    }

    [Fact]
    public void Tracking_from_inside_a_callback_that_holds_a_keys_lock_is_refused_not_a_deadlock()
    {
        using var store = BlockStoreTests.Store(1 << 20);
        var state = store;
        Assert.Throws<InvalidOperationException>(() => store.Update(K("k"), ref state, static (_, _, ref s) =>
        {
            s.TrackPrefix("a:"u8);
            return null;
        }));

        // The store is unharmed and the prefix can be tracked from outside.
        store.Set(K("a:1"), K("v"));
        store.TrackPrefix(K("a:"));
        Assert.Equal(1, store.CountKeys(K("a:")));
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Prefixes_tracked_while_writers_add_and_remove_keys_end_with_exact_counts()
    {
        using var store = BlockStoreTests.Store(256 << 20);
        const int Prefixes = 16;
        const int Keys = 1000;
        var started = new ManualResetEventSlim();
        var writers = Enumerable.Range(0, 2).Select(w => (Action<Func<bool>>)(running =>
        {
            var random = new Random(w);
            while (running())
            {
                var key = K($"p{random.Next(Prefixes)}:{random.Next(Keys)}");
                if (random.Next(3) == 0)
                {
                    store.Remove(key);
                }
                else
                {
                    store.Set(key, new byte[random.Next(1, 8)]);
                }

                started.Set();
            }
        }));

        // Each registration counts the keys present while the writers keep changing them.
        var tracker = (Action<Func<bool>>)(_ =>
        {
            started.Wait();
            for (var p = 0; p < Prefixes; p++)
            {
                Thread.Sleep(10);
                store.TrackPrefix(K($"p{p}:"));
            }
        });
        Stress.Run(TimeSpan.FromMilliseconds(500), [.. writers, tracker]);

        for (var p = 0; p < Prefixes; p++)
        {
            var present = Enumerable.Range(0, Keys).Count(i => store.ContainsKey(K($"p{p}:{i}")));
            Assert.True(present > 0);
            Assert.Equal(present, store.CountKeys(K($"p{p}:")));
        }
    }
}
