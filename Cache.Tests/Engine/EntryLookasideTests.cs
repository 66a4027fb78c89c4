using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using Cache.Engine;
using Cache.Tests.Support;

namespace Cache.Tests.Engine;

/// <summary>
/// The lookaside table in front of the store's index: reads that go through it must never see a key
/// that has left the store, nor an old value of a key that has been replaced.
/// </summary>
public class EntryLookasideTests
{
    private static byte[] K(string s) => BlockStoreTests.K(s);

    private static BlockStore Store(long capacity, AdmissionPolicy policy = AdmissionPolicy.Retain, TimeProvider? time = null) =>
        BlockStoreTests.Store(capacity, policy, time);

    private static string? Read(BlockStore store, string key) =>
        store.TryGet(K(key), out var value) ? Encoding.UTF8.GetString(value.Span) : null;

    [Fact]
    public void A_key_read_through_the_table_is_a_miss_once_removed_and_shows_its_new_value_once_set_again()
    {
        using var store = Store(1 << 20);
        store.Set(K("k"), K("one"));
        Assert.Equal("one", Read(store, "k"));
        Assert.Equal("one", Read(store, "k"));

        Assert.True(store.Remove(K("k")));
        Assert.Null(Read(store, "k"));

        store.Set(K("k"), K("two"));
        Assert.Equal("two", Read(store, "k"));

        // A value of another length replaces the bytes; one of the same length may overwrite them in place.
        store.Set(K("k"), K("three"));
        Assert.Equal("three", Read(store, "k"));
        store.Set(K("k"), K("four!"));
        Assert.Equal("four!", Read(store, "k"));
    }

    [Fact]
    public void Evicted_expired_and_cleared_keys_read_before_are_misses()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20000));
        var value = new byte[1000];
        var charge = BlockStore.IndexedChargeFor(2, value.Length);
        using var store = Store(charge * 4, AdmissionPolicy.Lru, clock);

        // Keys with an expiration: the general index's, which the lookaside table fronts.
        var later = clock.GetUtcNow().AddDays(1).ToUnixTimeMilliseconds();
        for (var i = 0; i < 4; i++)
        {
            store.Set(K($"k{i}"), value, later);
        }

        Assert.All(Enumerable.Range(0, 4), i => Assert.NotNull(Read(store, $"k{i}")));

        // Four more evict all four first keys, which the table had remembered.
        for (var i = 4; i < 8; i++)
        {
            store.Set(K($"k{i}"), value, later);
        }

        Assert.Equal(4, store.GetStatistics().Evicted);
        Assert.All(Enumerable.Range(0, 4), i => Assert.Null(Read(store, $"k{i}")));

        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        store.Set(K("k4"), value, now + 10);
        Assert.NotNull(Read(store, "k4"));
        clock.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Null(Read(store, "k4"));

        Assert.NotNull(Read(store, "k5"));
        store.Clear();
        Assert.All(Enumerable.Range(0, 8), i => Assert.Null(Read(store, $"k{i}")));
        Assert.Equal(0, store.BytesUsed);
    }

    [Fact]
    public void The_table_grows_with_the_store_and_every_key_stays_readable()
    {
        using var store = Store(1L << 30, AdmissionPolicy.Lru);
        const int Count = 20_000;
        var later = DateTimeOffset.UtcNow.AddDays(1).ToUnixTimeMilliseconds();
        for (var i = 0; i < Count; i++)
        {
            store.Set(K($"key:{i}"), K($"value:{i}"), later);
        }

        store.SettleLookaside();
        Assert.True(store.LookasideSlots >= 2 * Count, $"{store.LookasideSlots} slots for {Count} keys");
        for (var round = 0; round < 2; round++)
        {
            for (var i = 0; i < Count; i++)
            {
                Assert.Equal($"value:{i}", Read(store, $"key:{i}"));
            }
        }

        Assert.Equal(2L * Count, store.GetStatistics().Hits);

        // A flush gives the large table back; the store works on with a small one.
        var grown = store.LookasideSlots;
        store.Clear();
        Assert.True(store.LookasideSlots * 4 < grown, $"{store.LookasideSlots} slots after a flush, {grown} before");
        store.Set(K("key:1"), K("again"));
        Assert.Equal("again", Read(store, "key:1"));
        Assert.Null(Read(store, "key:2"));
    }

    [Fact]
    public void A_removed_entry_is_not_kept_alive_by_the_table()
    {
        var table = new EntryLookaside();
        var (weak, hash) = RememberAndRemove(table);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.False(weak.TryGetTarget(out _));
        Assert.Null(table.Find("gone"u8, hash));
    }

    [Fact]
    public void An_entry_already_removed_when_it_is_remembered_is_taken_back_out()
    {
        var table = new EntryLookaside();
        var entry = Entry("late", 7);
        entry.Removed = true;
        table.Remember(entry);
        Assert.Null(table.Find("late"u8, 7));

        // A live entry of the same set is kept; the table finds only exact keys.
        var live = Entry("live", 7);
        table.Remember(live);
        Assert.Same(live, table.Find("live"u8, 7));
        Assert.Null(table.Find("livf"u8, 7));
        Assert.Null(table.Find("live"u8, 9));
    }

    [Trait("Category", "Slow")]
    [Theory]
    [InlineData(AdmissionPolicy.Retain, 64L << 20, false)]
    [InlineData(AdmissionPolicy.Lru, 2L * 1024, false)]
    [InlineData(AdmissionPolicy.Random, 2L * 1024, false)]
    [InlineData(AdmissionPolicy.Lru, 8L * 1024, true)]
    [InlineData(AdmissionPolicy.Random, 8L * 1024, true)]
    public void Readers_never_see_a_key_that_writers_removed_or_a_value_another_key_holds(AdmissionPolicy policy, long capacity, bool expiring)
    {
        // The small stores hold a fraction of the keys, so that writers evict all the time as well. Keys
        // without an expiration live in the sample table; with one, in the general index and the lookaside.
        using var store = Store(capacity, policy);
        var expiresAt = expiring ? DateTimeOffset.UtcNow.AddDays(1).ToUnixTimeMilliseconds() : 0;
        const int Keys = 64;
        var wrong = 0;
        var reads = 0L;
        var writers = Enumerable.Range(0, 2).Select(w => (Action<Func<bool>>)(running =>
        {
            var random = new Random(w);
            while (running())
            {
                var key = random.Next(Keys);
                if (random.Next(3) == 0)
                {
                    store.Remove(K($"k{key}"));
                }
                else
                {
                    // Lengths vary, so that values are replaced as well as overwritten in place.
                    store.Set(K($"k{key}"), K($"k{key}:" + new string('x', random.Next(1, 40))), expiresAt);
                }
            }
        }));
        var readers = Enumerable.Range(0, 2).Select(r => (Action<Func<bool>>)(running =>
        {
            var output = new ArrayBufferWriter<byte>(64);
            var random = new Random(100 + r);
            while (running())
            {
                var key = random.Next(Keys);
                output.ResetWrittenCount();
                if (store.TryRead(K($"k{key}"), output, static (value, o) => o.Write(value)))
                {
                    var text = Encoding.UTF8.GetString(output.WrittenSpan);
                    if (!text.StartsWith($"k{key}:", StringComparison.Ordinal) || text.AsSpan($"k{key}:".Length).IndexOfAnyExcept('x') >= 0)
                    {
                        Interlocked.Increment(ref wrong);
                    }
                }

                Interlocked.Increment(ref reads);
            }
        }));
        Stress.Run(TimeSpan.FromMilliseconds(500), [.. writers, .. readers]);
        Assert.Equal(0, wrong);
        Assert.True(Interlocked.Read(ref reads) > 1000);
        Assert.Equal(policy != AdmissionPolicy.Retain, store.GetStatistics().Evicted > 0);

        // Once every key is gone, no read finds one, however the table was left.
        for (var i = 0; i < Keys; i++)
        {
            store.Remove(K($"k{i}"));
        }

        Assert.All(Enumerable.Range(0, Keys), i => Assert.Null(Read(store, $"k{i}")));
        Assert.Equal(0, store.BytesUsed);
    }

    [Fact]
    public void Prefetch_hints_change_nothing_and_count_nothing()
    {
        using var store = Store(1 << 20);
        store.Set(K("a"), K("1"));
        var source = K("a b missing");
        Range[] keys = [0..1, 2..3, 4..11, 0..0];
        store.Prefetch(source, keys);
        store.Prefetch(source, [.. Enumerable.Repeat(0..1, 100)]);
        store.Prefetch(source, []);
        var statistics = store.GetStatistics();
        Assert.Equal((0L, 0L, 1L), (statistics.Hits, statistics.Misses, store.Count));
        Assert.Equal("1", Read(store, "a"));
        Assert.Null(Read(store, "b"));
    }

    private static StoreEntry Entry(string key, int hash)
    {
        var bytes = Encoding.UTF8.GetBytes(key);
        return new StoreEntry(bytes, bytes.Length, hash, BlockStore.ChargeFor(bytes.Length, 0), 0);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (WeakReference<StoreEntry> Weak, int Hash) RememberAndRemove(EntryLookaside table)
    {
        var entry = Entry("gone", 3);
        table.Remember(entry);
        Assert.Same(entry, table.Find("gone"u8, 3));
        Volatile.Write(ref entry.Removed, true);
        table.Forget(entry);
        return (new WeakReference<StoreEntry>(entry), 3);
    }
}
