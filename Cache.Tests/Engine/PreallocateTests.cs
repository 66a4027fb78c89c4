using System.Runtime.InteropServices;
using Cache.Engine;
using Cache.Tests.Support;

namespace Cache.Tests.Engine;

/// <summary>Store memory committed ahead of need (<see cref="BlockStore.Preallocate"/>, memcached's <c>-L</c>).</summary>
public partial class PreallocateTests
{
    private const long Chunk = 4L << 20;

    private static BlockStore Store(long capacity, long preallocate = 0) =>
        new(new BlockStoreOptions { Capacity = capacity, Preallocate = preallocate, ExpirationSweepInterval = TimeSpan.Zero });

    [Fact]
    public void Whole_chunks_are_committed_and_the_store_fills_them_before_allocating_more()
    {
        using var store = Store(64L << 20);
        Assert.Equal(3 * Chunk, store.Preallocate(10L << 20));
        Assert.Equal(3 * Chunk, store.PreallocatedBytes);
        Assert.Equal(0, store.SampleChunkBytes);

        // 100 samples of 16 KB fill one chunk, which comes from the committed ones.
        for (var i = 0; i < 100; i++)
        {
            Assert.True(store.Set(BlockStoreTests.K($"s:{i}"), new byte[16 * 1024]).IsStored());
        }

        Assert.Equal(Chunk, store.SampleChunkBytes);
        Assert.Equal(2 * Chunk, store.PreallocatedBytes);
        Assert.True(store.TryGet(BlockStoreTests.K("s:99"), out var value) && value.Length == 16 * 1024);
    }

    [Fact]
    public void A_budget_that_is_no_multiple_of_a_chunk_gets_the_whole_chunks_it_can_hold()
    {
        using var store = Store(10L << 20);
        Assert.Equal(2 * Chunk, store.Preallocate(10L << 20));
        Assert.Equal(0, store.Preallocate(1));

        // The same budget again keeps what it has.
        store.Resize(10L << 20);
        Assert.Equal(2 * Chunk, store.PreallocatedBytes);
    }

    [Fact]
    public void What_is_committed_never_exceeds_what_the_budget_can_hold()
    {
        using var store = Store(20L << 20);
        Assert.Equal(5 * Chunk, store.Preallocate(1L << 30));
        Assert.Equal(0, store.Preallocate(Chunk));
        Assert.Equal(5 * Chunk, store.PreallocatedBytes);

        // A smaller budget lets the committed memory it cannot use go.
        store.Resize(8L << 20);
        Assert.Equal(2 * Chunk, store.PreallocatedBytes);
    }

    [Fact]
    public void The_option_commits_at_construction_and_out_of_range_values_are_refused_naming_it()
    {
        using (var store = Store(32L << 20, preallocate: 8L << 20))
        {
            Assert.Equal(8L << 20, store.PreallocatedBytes);
        }

        Assert.Equal("Preallocate", Assert.Throws<ArgumentOutOfRangeException>(() => Store(8L << 20, preallocate: 9L << 20)).ParamName);
        Assert.Equal("Preallocate", Assert.Throws<ArgumentOutOfRangeException>(() => Store(8L << 20, preallocate: -1)).ParamName);
        using var other = Store(8L << 20);
        Assert.Throws<ArgumentOutOfRangeException>(() => other.Preallocate(-1));
    }

    [LinuxFact]
    public unsafe void A_committed_chunk_is_resident_before_records_fill_it()
    {
        // The point of committing is that the machine backs the memory now: every page of the chunk a first record lands
        // in must be resident already, not only the record's own pages.
        using var store = Store(64L << 20, preallocate: Chunk);
        Assert.True(store.Set("first"u8, new byte[100]).IsStored());
        Assert.True(store.TryGet("first"u8, out var view));
        Assert.True(MemoryMarshal.TryGetArray(view, out var segment));
        var chunk = segment.Array!;
        Assert.True(chunk.Length >= Chunk);

        var page = Environment.SystemPageSize;
        fixed (byte* start = chunk)
        {
            var first = (nint)start & ~(nint)(page - 1);
            var end = (nint)start + chunk.Length;
            var pages = (int)((end - first + page - 1) / page);
            var resident = new byte[pages];
            fixed (byte* vector = resident)
            {
                Assert.Equal(0, Mincore(first, (nuint)(end - first), vector));
            }

            var missing = resident.Count(b => (b & 1) == 0);
            Assert.True(missing == 0, $"{missing} of {pages} pages of the committed chunk were not resident");
        }
    }

    [LibraryImport("libc", EntryPoint = "mincore", SetLastError = true)]
    private static unsafe partial int Mincore(nint address, nuint length, byte* vector);
}
