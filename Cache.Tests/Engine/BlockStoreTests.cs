using System.Diagnostics.Metrics;
using System.Text;
using Cache.Engine;
using Cache.Tests.Support;

namespace Cache.Tests.Engine;

public class BlockStoreTests
{
    internal static byte[] K(string s) => Encoding.UTF8.GetBytes(s);

    internal static BlockStore Store(long capacity, AdmissionPolicy policy = AdmissionPolicy.Retain, TimeProvider? time = null) =>
        new(new BlockStoreOptions { Capacity = capacity, Policy = policy, TimeProvider = time ?? TimeProvider.System, ExpirationSweepInterval = TimeSpan.Zero });

    [Fact]
    public void Set_then_get_returns_the_bytes_and_counts_a_hit()
    {
        using var store = Store(1 << 20);
        Assert.Equal(SetResult.Added, store.Set(K("a"), K("hello")));
        Assert.True(store.TryGet(K("a"), out var value));
        Assert.Equal("hello", Encoding.UTF8.GetString(value.Span));
        Assert.False(store.TryGet(K("b"), out _));
        var stats = store.GetStatistics();
        Assert.Equal(1, stats.Hits);
        Assert.Equal(1, stats.Misses);
        Assert.Equal(1, stats.Added);
        Assert.Equal(BlockStore.ChargeFor(1, 5), stats.BytesUsed);
    }

    [Fact]
    public void Stored_value_is_a_copy_the_caller_cannot_change()
    {
        using var store = Store(1 << 20);
        var source = K("abc");
        store.Set(K("k"), source);
        source[0] = (byte)'z';
        Assert.True(store.TryGet(K("k"), out var value));
        Assert.Equal("abc", Encoding.UTF8.GetString(value.Span));
    }

    [Fact]
    public void Keys_are_binary_safe()
    {
        using var store = Store(1 << 20);
        byte[] a = [0, 1, 2, 0xFF];
        byte[] b = [0, 1, 2, 0xFE];
        store.Set(a, K("A"));
        store.Set(b, K("B"));
        Assert.True(store.TryGet(a, out var va));
        Assert.True(store.TryGet(b, out var vb));
        Assert.Equal("A", Encoding.UTF8.GetString(va.Span));
        Assert.Equal("B", Encoding.UTF8.GetString(vb.Span));
    }

    [Fact]
    public void Replace_returns_Replaced_and_charges_only_the_new_value()
    {
        using var store = Store(1 << 20);
        store.Set(K("k"), new byte[100]);
        Assert.Equal(SetResult.Replaced, store.Set(K("k"), new byte[10]));
        Assert.Equal(BlockStore.ChargeFor(1, 10), store.BytesUsed);
        Assert.Equal(1, store.Count);
    }

    [Fact]
    public void Retain_rejects_when_full_counts_it_and_keeps_what_it_has()
    {
        var entry = BlockStore.ChargeFor(2, 100);
        using var store = Store(entry * 3);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(SetResult.Added, store.Set(K($"k{i}"), new byte[100]));
        }

        Assert.Equal(SetResult.RejectedFull, store.Set(K("k3"), new byte[100]));
        var stats = store.GetStatistics();
        Assert.Equal(1, stats.RejectedFull);
        Assert.Equal(0, stats.Evicted);
        Assert.Equal(3, stats.Entries);
        for (var i = 0; i < 3; i++)
        {
            Assert.True(store.ContainsKey(K($"k{i}")));
        }
    }

    [Fact]
    public void Retain_when_full_still_replaces_a_key_with_a_value_of_the_same_size()
    {
        var entry = BlockStore.ChargeFor(2, 100);
        using var store = Store(entry * 2);
        store.Set(K("k0"), new byte[100]);
        store.Set(K("k1"), new byte[100]);
        Assert.Equal(SetResult.Replaced, store.Set(K("k1"), Enumerable.Repeat((byte)7, 100).ToArray()));
        Assert.True(store.TryGet(K("k1"), out var v));
        Assert.Equal(7, v.Span[0]);
    }

    [Fact]
    public void Value_larger_than_the_capacity_is_rejected_with_a_result()
    {
        using var store = Store(4096);
        Assert.Equal(SetResult.RejectedTooLarge, store.Set(K("big"), new byte[5000]));
        Assert.Equal(SetResult.RejectedTooLarge, store.SetOwned(StoreKey.Copy(K("big")), new byte[5000]));
        Assert.Equal(2, store.GetStatistics().RejectedTooLarge);
        Assert.Equal(0, store.BytesUsed);
    }

    [Fact]
    public void Lru_evicts_the_least_recently_used_entry()
    {
        var entry = BlockStore.ChargeFor(1, 100);
        using var store = Store(entry * 3, AdmissionPolicy.Lru);
        store.Set(K("a"), new byte[100]);
        store.Set(K("b"), new byte[100]);
        store.Set(K("c"), new byte[100]);
        Assert.True(store.TryGet(K("a"), out _));
        Assert.True(store.TryGet(K("c"), out _));

        Assert.Equal(SetResult.Added, store.Set(K("d"), new byte[100]));

        Assert.False(store.ContainsKey(K("b")));
        Assert.True(store.ContainsKey(K("a")));
        Assert.True(store.ContainsKey(K("c")));
        Assert.True(store.ContainsKey(K("d")));
        Assert.Equal(1, store.GetStatistics().Evicted);
    }

    [Fact]
    public void Lru_evicts_as_many_entries_as_a_large_insert_needs()
    {
        var small = BlockStore.ChargeFor(2, 100);
        using var store = Store(small * 10, AdmissionPolicy.Lru);
        for (var i = 0; i < 10; i++)
        {
            store.Set(K($"s{i}"), new byte[100]);
        }

        // More than two entries' room, at most three's.
        const int bigValue = 400;
        Assert.InRange(BlockStore.ChargeFor(3, bigValue), (small * 2) + 1, small * 3);
        Assert.Equal(SetResult.Added, store.Set(K("big"), new byte[bigValue]));
        Assert.True(store.BytesUsed <= store.Capacity);
        Assert.Equal(3, store.GetStatistics().Evicted);
    }

    [Fact]
    public void Random_policy_evicts_to_make_room()
    {
        var entry = BlockStore.ChargeFor(3, 10);
        using var store = Store(entry * 5, AdmissionPolicy.Random);
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal(SetResult.Added, store.Set(K($"k{i:00}"), new byte[10]));
        }

        Assert.Equal(5, store.Count);
        Assert.Equal(45, store.GetStatistics().Evicted);
    }

    [Fact]
    public void Expired_entry_is_a_miss_and_its_bytes_are_released()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20000));
        using var store = Store(1 << 20, time: clock);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        store.Set(K("t"), K("v"), now + 1000);
        Assert.True(store.TryGet(K("t"), out _));
        clock.Advance(TimeSpan.FromMilliseconds(1000));
        Assert.False(store.TryGet(K("t"), out _));
        Assert.Equal(0, store.BytesUsed);
        Assert.Equal(1, store.GetStatistics().Expired);
    }

    [Fact]
    public void RemoveExpired_sweeps_entries_nobody_touches()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20000));
        using var store = Store(1 << 20, time: clock);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        for (var i = 0; i < 10; i++)
        {
            store.Set(K($"e{i}"), K("v"), now + 10);
        }

        store.Set(K("keep"), K("v"));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(10, store.RemoveExpired(100));
        Assert.Equal(1, store.Count);
        Assert.Equal(10, store.GetStatistics().Expired);
    }

    [Fact]
    public void Background_sweep_removes_expired_entries()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20000));
        using var store = new BlockStore(new BlockStoreOptions { Capacity = 1 << 20, ExpirationSweepInterval = TimeSpan.FromMilliseconds(10), TimeProvider = clock });
        store.Set(K("x"), K("v"), store.NowUnixMs + 20);
        store.Set(K("sample"), K("v"));
        clock.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Equal(2, store.Count);

        // The sweep runs on the store's clock: the tick after the expiration reclaims the key nobody touched.
        clock.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Equal(1, store.Count);
        Assert.Equal(1, store.GetStatistics().Expired);
    }

    [Fact]
    public void Retain_reclaims_expired_entries_before_rejecting()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20000));
        var entry = BlockStore.ChargeFor(2, 10);
        using var store = Store(entry * 2, time: clock);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        store.Set(K("a1"), new byte[10], now + 5);
        store.Set(K("a2"), new byte[10]);
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(SetResult.Added, store.Set(K("a3"), new byte[10]));
        Assert.Equal(0, store.GetStatistics().RejectedFull);
    }

    [Fact]
    public void Expiration_can_be_read_changed_and_kept()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20000));
        using var store = Store(1 << 20, time: clock);
        var at = clock.GetUtcNow().ToUnixTimeMilliseconds() + 5000;
        store.Set(K("k"), K("v"));
        Assert.True(store.TrySetExpiration(K("k"), at));
        Assert.True(store.TryGetExpiration(K("k"), out var read));
        Assert.Equal(at, read);
        store.Set(K("k"), K("v2"), BlockStore.KeepExpiration);
        Assert.True(store.TryGetExpiration(K("k"), out read));
        Assert.Equal(at, read);
        store.Set(K("k"), K("v3"));
        Assert.True(store.TryGetExpiration(K("k"), out read));
        Assert.Equal(0, read);
        Assert.False(store.TrySetExpiration(K("absent"), at));
    }

    [Fact]
    public void A_growing_replace_of_an_entry_that_expires_meanwhile_leaks_no_budget()
    {
        // The clock moves 1 ms per read, so the old entry expires between the lookup and the reservation.
        var clock = new SteppingTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20000), TimeSpan.FromMilliseconds(1));
        var entry = BlockStore.ChargeFor(1, 100);
        using var store = Store(entry + 50, time: clock);
        for (var attempt = 0; attempt < 20; attempt++)
        {
            store.Set(K("k"), new byte[100], store.NowUnixMs + 3);
            var result = store.Set(K("k"), new byte[120]);
            Assert.Equal(result.IsStored(), store.ContainsKey(K("k")));
            store.Clear();
            Assert.Equal(0, store.BytesUsed);
            Assert.Equal(0, store.ExpiringCount);
        }
    }

    [Fact]
    public void Expire_conditions_combine()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20000));
        using var store = Store(1 << 20, time: clock);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        store.Set(K("k"), K("v"), now + 100_000);
        Assert.Equal(ExpireResult.NotApplied, store.UpdateExpiration(K("k"), now + 10_000, ExpireCondition.IfAny | ExpireCondition.IfGreater));
        Assert.Equal(ExpireResult.Applied, store.UpdateExpiration(K("k"), now + 10_000, ExpireCondition.IfAny | ExpireCondition.IfLess));
        store.Persist(K("k"));
        Assert.Equal(ExpireResult.NotApplied, store.UpdateExpiration(K("k"), now + 5_000, ExpireCondition.IfAny | ExpireCondition.IfLess));
    }

    [Fact]
    public void Conditions_IfAbsent_and_IfPresent_hold()
    {
        using var store = Store(1 << 20);
        Assert.Equal(SetResult.ConditionNotMet, store.Set(K("k"), K("1"), condition: SetCondition.IfPresent));
        Assert.Equal(SetResult.Added, store.Set(K("k"), K("1"), condition: SetCondition.IfAbsent));
        Assert.Equal(SetResult.ConditionNotMet, store.Set(K("k"), K("2"), condition: SetCondition.IfAbsent));
        Assert.Equal(SetResult.Replaced, store.Set(K("k"), K("3"), condition: SetCondition.IfPresent));
        Assert.True(store.TryGet(K("k"), out var v));
        Assert.Equal("3", Encoding.UTF8.GetString(v.Span));
    }

    [Fact]
    public void Prefix_count_and_remove_touch_only_matching_keys()
    {
        using var store = Store(1 << 20);
        for (var i = 0; i < 5; i++)
        {
            store.Set(K($"a:{i}"), K("v"));
            store.Set(K($"ab:{i}"), K("v"));
        }

        Assert.Equal(5, store.CountKeys(K("a:")));
        Assert.Equal(5, store.RemoveKeys(K("a:")));
        Assert.Equal(0, store.CountKeys(K("a:")));
        Assert.Equal(5, store.CountKeys(K("ab:")));
        Assert.Equal(BlockStore.ChargeFor(4, 1) * 5, store.BytesUsed);
    }

    [Theory]
    [InlineData(AdmissionPolicy.Retain)]
    [InlineData(AdmissionPolicy.Lru)]
    [InlineData(AdmissionPolicy.Random)]
    public void Budget_is_never_exceeded_under_concurrent_writers(AdmissionPolicy policy)
    {
        const long capacity = 256 * 1024;
        using var store = Store(capacity, policy);
        var stop = 0;
        var overBudget = 0L;
        var watcher = new Thread(() =>
        {
            while (Volatile.Read(ref stop) == 0)
            {
                var used = store.BytesUsed;
                if (used > capacity)
                {
                    Interlocked.Exchange(ref overBudget, used);
                }
            }
        });
        watcher.Start();

        var writers = Enumerable.Range(0, 8).Select(t => new Thread(() =>
        {
            var random = new Random(t);
            for (var i = 0; i < 20_000; i++)
            {
                var key = K($"k{random.Next(2000)}");
                switch (random.Next(10))
                {
                    case 0:
                        store.Remove(key);
                        break;
                    case 1:
                        store.TryGet(key, out _);
                        break;
                    default:
                        store.Set(key, new byte[random.Next(0, 4000)]);
                        break;
                }
            }
        })).ToList();
        writers.ForEach(w => w.Start());
        writers.ForEach(w => w.Join());
        Volatile.Write(ref stop, 1);
        watcher.Join();

        Assert.Equal(0, Interlocked.Read(ref overBudget));
        Assert.True(store.BytesUsed <= capacity);
        var stats = store.GetStatistics();
        Assert.True(stats.Added > 0);
        if (policy == AdmissionPolicy.Retain)
        {
            Assert.Equal(0, stats.Evicted);
        }
        else
        {
            Assert.True(stats.Evicted > 0);
        }

        // Every byte reserved is accounted to a live entry: clearing returns the budget to zero.
        store.Clear();
        Assert.Equal(0, store.Count);
        Assert.Equal(0, store.BytesUsed);
    }

    [Fact]
    public void Statistics_are_published_as_metrics()
    {
        using var store = new BlockStore(new BlockStoreOptions { Capacity = 1 << 20, Name = "metrics-" + Guid.NewGuid() });
        store.Set(K("m"), K("v"));
        store.TryGet(K("m"), out _);
        store.TryGet(K("n"), out _);

        var seen = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Cache.Engine")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "cache.store" && ReferenceEquals(tag.Value, store.Name) && instrument.Meter.Name == "Cache.Engine")
                {
                    seen[instrument.Name] = value;
                }
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();

        Assert.Equal(1, seen["cache.store.hits"]);
        Assert.Equal(1, seen["cache.store.misses"]);
        Assert.Equal(1, seen["cache.store.entries"]);
        Assert.Equal(store.BytesUsed, seen["cache.store.bytes_used"]);
    }

    [Fact]
    public void Invalid_options_throw_naming_the_option()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new BlockStore(new BlockStoreOptions { Capacity = -1 }));
        Assert.Equal("Capacity", ex.ParamName);
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => new BlockStore(new BlockStoreOptions { Policy = (AdmissionPolicy)42 }));
        Assert.Equal("Policy", ex.ParamName);
    }

    private readonly struct PlainFormat : IValueFormat
    {
        public static int MaxOverhead => 0;

        public static int Format(ReadOnlySpan<byte> value, Span<byte> destination)
        {
            value.CopyTo(destination);
            return value.Length;
        }

        public static void Write(ReadOnlySpan<byte> value, System.Buffers.IBufferWriter<byte> output) => System.Buffers.BuffersExtensions.Write(output, value);
    }

    [Fact]
    public void A_view_handed_out_by_TryGet_never_changes_when_the_key_is_overwritten()
    {
        using var store = Store(1 << 20);
        store.Set(K("k"), Enumerable.Repeat((byte)1, 100).ToArray());
        Assert.True(store.TryGet(K("k"), out var view));
        store.Set(K("k"), Enumerable.Repeat((byte)2, 100).ToArray());
        Assert.All(view.ToArray(), b => Assert.Equal(1, b));
        Assert.True(store.TryGet(K("k"), out var now));
        Assert.All(now.ToArray(), b => Assert.Equal(2, b));
    }

    [Fact]
    public void Same_length_overwrites_of_an_unshared_value_allocate_no_new_array()
    {
        using var store = Store(1 << 20);
        var value = new byte[1000];
        var key = K("k");
        store.Set(key, value);
        for (var i = 0; i < 10; i++)
        {
            store.Set(key, value);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            value[0] = (byte)i;
            store.Set(key, value);
        }

        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1000, "an in-place overwrite should not allocate");
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        Assert.True(store.TryWriteValue<PlainFormat>(K("k"), output));
        Assert.Equal((byte)(999 % 256), output.WrittenSpan[0]);
    }

    [Trait("Category", "Slow")]
    [Theory]
    [InlineData(4096)]
    [InlineData(100_000)]
    public void Copying_readers_never_see_a_torn_value_while_writers_overwrite_in_place(int Length)
    {
        using var store = Store(16 << 20);
        store.Set(K("hot"), new byte[Length]);
        var torn = 0;
        var reads = 0L;
        var writers = Enumerable.Range(1, 2).Select(w => (Action<Func<bool>>)(running =>
        {
            var value = new byte[Length];
            for (var i = 0; running(); i++)
            {
                Array.Fill(value, (byte)((w * 100) + (i % 100)));
                store.Set(K("hot"), value);
            }
        }));
        var readers = Enumerable.Range(0, 2).Select(_ => (Action<Func<bool>>)(running =>
        {
            var output = new System.Buffers.ArrayBufferWriter<byte>(Length);
            while (running())
            {
                output.ResetWrittenCount();
                Assert.True(store.TryWriteValue<PlainFormat>(K("hot"), output));
                var span = output.WrittenSpan;
                if (span.Length != Length || span.IndexOfAnyExcept(span[0]) >= 0)
                {
                    Interlocked.Increment(ref torn);
                }

                Interlocked.Increment(ref reads);
            }
        }));
        Stress.Run(TimeSpan.FromMilliseconds(500), [.. writers, .. readers]);
        Assert.Equal(0, torn);
        Assert.True(Interlocked.Read(ref reads) > 100);
    }

    [Fact]
    public void A_view_taken_while_writers_overwrite_stays_whole_and_unchanged()
    {
        using var store = Store(16 << 20);
        const int Length = 4096;
        store.Set(K("hot"), new byte[Length]);
        var stop = 0;
        var bad = 0;
        var writer = new Thread(() =>
        {
            var value = new byte[Length];
            for (var i = 0; Volatile.Read(ref stop) == 0; i++)
            {
                Array.Fill(value, (byte)i);
                store.Set(K("hot"), value);
            }
        });
        writer.Start();
        for (var i = 0; i < 2000; i++)
        {
            Assert.True(store.TryGet(K("hot"), out var view));
            var first = view.ToArray();
            Thread.SpinWait(50);
            if (first.AsSpan().IndexOfAnyExcept(first[0]) >= 0 || !view.Span.SequenceEqual(first))
            {
                bad++;
            }
        }

        Volatile.Write(ref stop, 1);
        writer.Join();
        Assert.Equal(0, bad);
    }
}
