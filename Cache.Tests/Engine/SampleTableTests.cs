using System.Text;
using Cache.Engine;
using Cache.Tests.Support;

namespace Cache.Tests.Engine;

/// <summary>
/// The sample table (a Retain store's keys without an expiration): exact budget across growth steps,
/// no lookup missing a present key while segments grow, moves to the general index and back out,
/// compaction of mostly dead chunks.
/// </summary>
[Collection(RunAlone.Name)]
public class SampleTableTests
{
    private static byte[] K(string s) => BlockStoreTests.K(s);

    private static BlockStore Store(long capacity = 1L << 32, TimeProvider? time = null) => BlockStoreTests.Store(capacity, AdmissionPolicy.Retain, time);

    private static long ChargedSum(BlockStore store, IEnumerable<string> keys) =>
        keys.Select(k => store.MemoryUsage(K(k))).Where(c => c >= 0).Sum();

    [Fact]
    public void A_sample_is_charged_its_record_and_index_share_and_nothing_else()
    {
        using var store = Store();
        store.Set(K("sample:1"), new byte[100]);
        Assert.Equal(1, store.SampleCount);

        // 16-byte header + 8 + 100 = 124, rounded up to 128, plus 52 of index (a 16-byte slot at a load of 5/16).
        Assert.Equal(180, BlockStore.ChargeFor(8, 100));
        Assert.Equal(180, store.BytesUsed);
        Assert.Equal(180, store.MemoryUsage(K("sample:1")));
        Assert.True(store.Remove(K("sample:1")));
        Assert.Equal(0, store.BytesUsed);
    }

    [Fact]
    public void Budget_is_exact_under_concurrent_inserts_and_removals_across_growth_steps()
    {
        using var store = Store();
        const int Threads = 4;
        const int PerThread = 30_000;

        // Each thread inserts its own keys (every segment grows several times over) and removes every third
        // one again, with values of varying length, some replaced by values of another length.
        var failedRemovals = 0;
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            var random = new Random(t);
            for (var i = 0; i < PerThread; i++)
            {
                var key = K($"t{t}:{i}");
                store.Set(key, new byte[random.Next(0, 300)]);
                if (i % 7 == 0)
                {
                    store.Set(key, new byte[random.Next(0, 300)]);
                }

                // Key i / 3 was inserted already and is removed only here, once.
                if (i % 3 == 0 && !store.Remove(K($"t{t}:{i / 3}")))
                {
                    Interlocked.Increment(ref failedRemovals);
                }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Equal(0, failedRemovals);

        var keys = Enumerable.Range(0, Threads).SelectMany(t => Enumerable.Range(0, PerThread).Select(i => $"t{t}:{i}")).ToList();
        var present = keys.Count(k => store.ContainsKey(K(k)));
        Assert.Equal(present, store.Count);
        Assert.Equal(present, store.SampleCount);
        Assert.Equal(ChargedSum(store, keys), store.BytesUsed);

        var stats = store.GetStatistics();
        Assert.Equal(stats.Added - stats.Removed, store.Count);
        store.Clear();
        Assert.Equal(0, store.Count);
        Assert.Equal(0, store.BytesUsed);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void No_lookup_misses_a_present_key_while_the_index_grows()
    {
        using var store = Store();
        const int Resident = 5_000;
        const int Inserted = 400_000;
        for (var i = 0; i < Resident; i++)
        {
            store.Set(K($"resident:{i}"), Encoding.ASCII.GetBytes($"r{i}"));
        }

        // 400k inserts over 1024 segments: each segment grows from 8 slots to 1024 or 2048, seven or eight
        // rehashes each, about 8000 growth steps, while readers look up keys that are present throughout.
        var written = 0;
        var done = 0;
        var misses = 0L;
        var wrong = 0L;
        var lookups = 0L;
        var writer = new Thread(() =>
        {
            for (var i = 0; i < Inserted; i++)
            {
                store.Set(K($"new:{i}"), Encoding.ASCII.GetBytes($"n{i}"));
                Volatile.Write(ref written, i + 1);
            }

            Volatile.Write(ref done, 1);
        });
        var readers = Enumerable.Range(0, 2).Select(r => new Thread(() =>
        {
            var random = new Random(r);
            Span<byte> buffer = stackalloc byte[32];
            while (Volatile.Read(ref done) == 0)
            {
                var resident = random.Next(Resident);
                Check($"resident:{resident}", $"r{resident}");
                var upTo = Volatile.Read(ref written);
                if (upTo > 0)
                {
                    var recent = upTo - 1 - random.Next(Math.Min(upTo, 64));
                    Check($"new:{recent}", $"n{recent}");
                }
            }

            void Check(string key, string expected)
            {
                Interlocked.Increment(ref lookups);
                if (!store.TryGet(K(key), out var value))
                {
                    Interlocked.Increment(ref misses);
                }
                else if (Encoding.ASCII.GetString(value.Span) != expected)
                {
                    Interlocked.Increment(ref wrong);
                }
            }
        })).ToList();
        writer.Start();
        readers.ForEach(r => r.Start());
        writer.Join();
        readers.ForEach(r => r.Join());

        Assert.True(Interlocked.Read(ref lookups) > 1000, $"only {lookups} lookups ran during the fill");
        Assert.Equal(0, Interlocked.Read(ref misses));
        Assert.Equal(0, Interlocked.Read(ref wrong));
        Assert.Equal(Resident + Inserted, store.Count);
        Assert.All(Enumerable.Range(0, Inserted).Where(i => i % 997 == 0), i => Assert.True(store.ContainsKey(K($"new:{i}"))));
    }

    [Fact]
    public void An_expiration_moves_a_sample_to_the_index_and_it_expires_there()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20000));
        using var store = Store(time: clock);
        store.Set(K("s"), K("value"));
        store.TrackPrefix(K("s"));
        Assert.Equal(BlockStore.ChargeFor(1, 5), store.BytesUsed);

        var at = clock.GetUtcNow().ToUnixTimeMilliseconds() + 1000;
        Assert.True(store.TrySetExpiration(K("s"), at));
        Assert.Equal(0, store.SampleCount);
        Assert.Equal(1, store.Count);
        Assert.Equal(BlockStore.IndexedChargeFor(1, 5), store.BytesUsed);
        Assert.True(store.TryGetExpiration(K("s"), out var read));
        Assert.Equal(at, read);
        Assert.Equal(1, store.CountKeys(K("s")));

        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.False(store.TryGet(K("s"), out _));
        Assert.Equal(0, store.Count);
        Assert.Equal(0, store.BytesUsed);
        Assert.Equal(0, store.CountKeys(K("s")));
    }

    [Fact]
    public void Set_with_a_time_to_live_on_a_sample_moves_it_and_a_past_time_deletes_it()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20000));
        using var store = Store(time: clock);
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        store.Set(K("a"), K("1"));
        Assert.Equal(SetResult.Replaced, store.Set(K("a"), K("22"), now + 500));
        Assert.True(store.TryGetExpiration(K("a"), out var at));
        Assert.Equal(now + 500, at);
        Assert.Equal(BlockStore.IndexedChargeFor(1, 2), store.BytesUsed);

        store.Set(K("b"), K("x"));
        Assert.Equal(ExpireResult.NotApplied, store.UpdateExpiration(K("b"), now + 10, ExpireCondition.IfAny));
        Assert.Equal(ExpireResult.Applied, store.UpdateExpiration(K("b"), now - 1, ExpireCondition.IfNone));
        Assert.False(store.ContainsKey(K("b")));
        Assert.Equal(1, store.GetStatistics().Expired);
        Assert.Equal(BlockStore.IndexedChargeFor(1, 2), store.BytesUsed);
    }

    [Fact]
    public void A_full_store_refuses_the_move_and_keeps_the_sample()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20000));
        // Room for the indexed entry's charge but not for it and another sample.
        using var store = Store(capacity: BlockStore.IndexedChargeFor(1, 10) + BlockStore.ChargeFor(1, 10) - 1, time: clock);
        store.Set(K("a"), new byte[10]);
        store.Set(K("b"), new byte[10]);
        Assert.Equal(SetResult.RejectedFull, store.Set(K("a"), new byte[10], clock.GetUtcNow().ToUnixTimeMilliseconds() + 1000));
        Assert.True(store.TryGet(K("a"), out _));
        Assert.True(store.TryGetExpiration(K("a"), out var at));
        Assert.Equal(0, at);
        Assert.Equal(BlockStore.ChargeFor(1, 10) * 2, store.BytesUsed);
    }

    [Fact]
    public void A_view_handed_out_never_changes_and_same_length_writes_overwrite_in_place_otherwise()
    {
        using var store = Store();
        store.Set(K("k"), K("aaaa"));
        var chunkBytes = store.SampleChunkBytes;
        Assert.True(store.TryGet(K("k"), out var view));
        store.Set(K("k"), K("bbbb"));
        Assert.Equal("aaaa", Encoding.ASCII.GetString(view.Span));
        Assert.True(store.TryRead(K("k"), 0, static (span, _) => Assert.Equal("bbbb", Encoding.ASCII.GetString(span))));

        // Not shared since: the next write of the same length goes where the value is.
        var used = store.BytesUsed;
        store.Set(K("k"), K("cccc"));
        Assert.Equal(used, store.BytesUsed);
        Assert.Equal(chunkBytes, store.SampleChunkBytes);
        Assert.True(store.TryRead(K("k"), 0, static (span, _) => Assert.Equal("cccc", Encoding.ASCII.GetString(span))));
    }

    [Fact]
    public void Mostly_dead_chunks_are_compacted_and_the_rest_stays_readable()
    {
        using var store = Store();
        const int Count = 80_000;
        var value = new byte[400];
        for (var i = 0; i < Count; i++)
        {
            BitConverter.TryWriteBytes(value, i);
            store.Set(K($"c:{i}"), value);
        }

        Assert.True(store.TryGet(K("c:1"), out var view));
        var before = store.SampleChunkBytes;
        Assert.True(before >= 4L * SampleTable.ChunkBytes, $"{before} bytes of chunks");

        // Three of every four keys go: every full chunk falls under half live and waits for compaction.
        for (var i = 0; i < Count; i++)
        {
            if (i % 4 != 0)
            {
                store.Remove(K($"c:{i}"));
            }
        }

        store.CompactSamples();
        var after = store.SampleChunkBytes;
        Assert.True(after * 2 < before, $"{after} bytes of chunks after compaction, {before} before");
        Assert.Equal(Count / 4, store.Count);
        for (var i = 0; i < Count; i += 4)
        {
            Assert.True(store.TryGet(K($"c:{i}"), out var read));
            Assert.Equal(i, BitConverter.ToInt32(read.Span));
        }

        Assert.Equal(1, BitConverter.ToInt32(view.Span));
        Assert.Equal(ChargedSum(store, Enumerable.Range(0, Count).Select(i => $"c:{i}")), store.BytesUsed);
    }

    [Fact]
    public void Scan_returns_every_sample_and_indexed_key_once()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20000));
        using var store = Store(time: clock);
        var far = clock.GetUtcNow().ToUnixTimeMilliseconds() + 100_000;
        for (var i = 0; i < 3000; i++)
        {
            store.Set(K($"k{i}"), K("v"), i % 5 == 0 ? far : 0);
        }

        var seen = new List<string>();
        var cursor = 0;
        var steps = 0;
        do
        {
            var keys = new List<StoreKey>();
            cursor = store.Scan(cursor, 100, keys);
            seen.AddRange(keys.Select(k => Encoding.ASCII.GetString(k.Span)));
            steps++;
        }
        while (cursor != 0);

        Assert.Equal(3000, seen.Count);
        Assert.Equal(3000, seen.Distinct().Count());
        Assert.True(steps > 10, $"{steps} steps");
        Assert.NotNull(store.RandomKey());
    }

    [Fact]
    public void A_key_given_twice_in_SetMany_is_charged_once_and_lands_in_the_sample_table()
    {
        using var store = Store(capacity: BlockStore.ChargeFor(1, 10) * 2);
        var entries = new List<KeyValuePair<StoreKey, byte[]>>
        {
            new(StoreKey.Copy(K("a")), new byte[10]),
            new(StoreKey.Copy(K("a")), new byte[10]),
            new(StoreKey.Copy(K("b")), new byte[10]),
        };
        var results = new SetResult[3];
        Assert.True(store.SetMany(entries, onlyIfNoneExist: false, results));
        Assert.Equal([SetResult.Added, SetResult.Replaced, SetResult.Added], results);
        Assert.Equal(2, store.SampleCount);
        Assert.Equal(BlockStore.ChargeFor(1, 10) * 2, store.BytesUsed);
    }
}
