using Cache.Engine;
using Cache.Tests.Support;

namespace Cache.Tests.Engine;

/// <summary>
/// Eviction from the sample table (keys without an expiration under <see cref="AdmissionPolicy.Lru"/> and
/// <see cref="AdmissionPolicy.Random"/>): approximated LRU keeps what is read, random eviction does not
/// favour the new, the budget stays exact while evictions, removals and growth steps race, and a key being
/// replaced or given an expiration is never the one evicted to make its room.
/// </summary>
public class SampleEvictionTests
{
    private static byte[] K(string s) => BlockStoreTests.K(s);

    private static byte[] Key(int i) => K($"key:{i:D6}");

    [Fact]
    public void Lru_keeps_the_keys_that_are_read_and_evicts_the_ones_that_are_not()
    {
        // Past SampleTable.ExactBelow entries, so that victims are sampled rather than searched for.
        const int Held = 1000;
        const int Hot = 50;
        var value = new byte[100];
        using var store = BlockStoreTests.Store(BlockStore.ChargeFor(Key(0).Length, value.Length) * Held, AdmissionPolicy.Lru);
        for (var i = 0; i < Held; i++)
        {
            Assert.Equal(SetResult.Added, store.Set(Key(i), value));
        }

        // Twice the store's size of new keys, the hot keys (the first written: the oldest, but for their
        // reads) read before every insert, as a training loop reads the samples it uses while new ones stream in.
        for (var i = Held; i < Held * 3; i++)
        {
            for (var h = 0; h < Hot; h++)
            {
                store.TryGet(Key(h), out _);
            }

            Assert.Equal(SetResult.Added, store.Set(Key(i), value));
        }

        Assert.Equal(Held, store.Count);
        Assert.Equal(Held, store.SampleCount);
        Assert.Equal(2 * Held, store.GetStatistics().Evicted);
        Assert.True(store.BytesUsed <= store.Capacity);
        Assert.All(Enumerable.Range(0, Hot), h => Assert.True(store.ContainsKey(Key(h)), $"hot key {h} was evicted"));

        // The cold keys of the first fill are the oldest: nearly all gone. (Exact LRU would evict them all; five samples per eviction keep a few.)
        var coldLeft = Enumerable.Range(Hot, Held - Hot).Count(i => store.ContainsKey(Key(i)));
        Assert.True(coldLeft < (Held - Hot) / 10, $"{coldLeft} of {Held - Hot} cold keys left");
    }

    [Fact]
    public void Lru_without_reads_evicts_the_oldest_writes_first()
    {
        const int Held = 500;
        var value = new byte[64];
        using var store = BlockStoreTests.Store(BlockStore.ChargeFor(Key(0).Length, value.Length) * Held, AdmissionPolicy.Lru);
        for (var i = 0; i < Held * 4; i++)
        {
            store.Set(Key(i), value);
        }

        // The last quarter written is the youngest: sampled LRU keeps most of it (about 75% in runs of this
        // test), and little of the first half (1-3%).
        var newest = Enumerable.Range(Held * 3, Held).Count(i => store.ContainsKey(Key(i)));
        var firstHalf = Enumerable.Range(0, Held * 2).Count(i => store.ContainsKey(Key(i)));
        Assert.True(newest > Held * 6 / 10, $"{newest} of the newest {Held} kept");
        Assert.True(firstHalf < Held / 10, $"{firstHalf} of the first {Held * 2} kept");
    }

    [Fact]
    public void Random_eviction_does_not_favour_the_new()
    {
        const int Held = 500;
        var value = new byte[64];
        using var store = BlockStoreTests.Store(BlockStore.ChargeFor(Key(0).Length, value.Length) * Held, AdmissionPolicy.Random);
        for (var i = 0; i < Held * 2; i++)
        {
            store.Set(Key(i), value);
        }

        // Each of the first 500 survived about 500 coin flips of 1/500 each: about 37% are left (e^-1). LRU would leave none.
        var firstLeft = Enumerable.Range(0, Held).Count(i => store.ContainsKey(Key(i)));
        Assert.InRange(firstLeft, Held / 5, Held / 2);
        Assert.Equal(Held, store.Count);
        Assert.Equal(Held, store.GetStatistics().Evicted);
    }

    [Fact]
    public void A_key_replaced_by_a_larger_value_in_a_full_store_evicts_others_not_itself()
    {
        var value = new byte[100];
        using var store = BlockStoreTests.Store(BlockStore.ChargeFor(Key(0).Length, value.Length) * 10, AdmissionPolicy.Lru);
        for (var i = 0; i < 10; i++)
        {
            store.Set(Key(i), value);
        }

        // Key 0 is the oldest: the first victim LRU would choose, were it not the key being written.
        Assert.Equal(SetResult.Replaced, store.Set(Key(0), new byte[300]));
        Assert.True(store.TryGet(Key(0), out var stored));
        Assert.Equal(300, stored.Length);
        Assert.True(store.BytesUsed <= store.Capacity);
        Assert.Equal(store.BytesUsed, Enumerable.Range(0, 10).Select(i => store.MemoryUsage(Key(i))).Where(c => c >= 0).Sum());
        Assert.True(store.GetStatistics().Evicted >= 2);
    }

    [Fact]
    public void A_sample_given_an_expiration_in_a_full_store_moves_and_is_not_evicted_for_its_own_room()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20000));
        var value = new byte[100];
        var sample = BlockStore.ChargeFor(Key(0).Length, value.Length);
        using var store = BlockStoreTests.Store(sample * 20, AdmissionPolicy.Lru, clock);
        for (var i = 0; i < 20; i++)
        {
            store.Set(Key(i), value);
        }

        // The general index charges more than the table: the move must evict others to fit.
        Assert.True(BlockStore.IndexedChargeFor(Key(0).Length, value.Length) > sample);
        var later = clock.GetUtcNow().AddHours(1).ToUnixTimeMilliseconds();
        Assert.True(store.TrySetExpiration(Key(0), later));
        Assert.True(store.TryGetExpiration(Key(0), out var expiresAt));
        Assert.Equal(later, expiresAt);
        Assert.Equal(store.Count - 1, store.SampleCount);
        Assert.Equal(20 - store.GetStatistics().Evicted, store.Count);
        Assert.Equal(store.BytesUsed, Enumerable.Range(0, 20).Select(i => store.MemoryUsage(Key(i))).Where(c => c >= 0).Sum());
        Assert.True(store.BytesUsed <= store.Capacity);
        Assert.True(store.GetStatistics().Evicted >= 1);
    }

    [Trait("Category", "Slow")]
    [Theory]
    [InlineData(AdmissionPolicy.Lru)]
    [InlineData(AdmissionPolicy.Random)]
    public void The_budget_stays_exact_while_inserts_evictions_and_removals_race_across_growth_steps(AdmissionPolicy policy)
    {
        // 20k keys into a store that holds a few thousand: segments grow and shrink, chunks are compacted,
        // and every insert evicts, on four threads at once.
        const int Keys = 20_000;
        using var store = BlockStoreTests.Store(512 * 1024, policy);
        var workers = Enumerable.Range(0, 4).Select(w => (Action<Func<bool>>)(running =>
        {
            var random = new Random(w);
            while (running())
            {
                var key = Key(random.Next(Keys));
                if (random.Next(8) == 0)
                {
                    store.Remove(key);
                }
                else
                {
                    var result = store.Set(key, new byte[random.Next(1, 400)]);
                    Assert.True(result.IsStored(), $"{result}");
                }

                Assert.True(store.BytesUsed <= store.Capacity);
            }
        }));
        Stress.Run(TimeSpan.FromMilliseconds(500), workers);
        store.CompactSamples();

        var charged = Enumerable.Range(0, Keys).Select(i => store.MemoryUsage(Key(i))).Where(c => c >= 0).Sum();
        Assert.Equal(charged, store.BytesUsed);
        Assert.Equal(Enumerable.Range(0, Keys).Count(i => store.ContainsKey(Key(i))), store.Count);
        Assert.True(store.GetStatistics().Evicted > Keys / 10, $"{store.GetStatistics().Evicted} evictions");
        Assert.True(store.BytesUsed > store.Capacity / 2, $"{store.BytesUsed} of {store.Capacity} used");

        // Emptied, it holds nothing and charges nothing.
        store.Clear();
        Assert.Equal(0, store.BytesUsed);
        Assert.Equal(0, store.SampleCount);
    }
}
