using System.Globalization;
using System.Runtime.InteropServices;
using Cache.Engine;

namespace Cache.Tests.Engine;

public class HugePagesTests
{
    [HugePagesFact]
    public unsafe void Advice_marks_every_2_mb_page_an_array_touches_and_no_other()
    {
        // Fresh memory of its own mapping (far over malloc's mmap threshold), 2 MB-aligned: what is marked is this call's.
        const long Page = 2L << 20;
        var block = (byte*)NativeMemory.AlignedAlloc((nuint)(4 * Page), (nuint)Page);
        try
        {
            // 2.5 pages from a quarter into the first: the advice must cover pages 0-2 (rounded out), not page 3.
            var start = block + (Page / 4);
            Assert.All(Enumerable.Range(0, 4), page => Assert.DoesNotContain("hg", FlagsOfMappingAt((long)block + (page * Page) + 100)));

            HugePages.Advise(start, (5 * Page) / 2);

            Assert.Contains("hg", FlagsOfMappingAt((long)block + 100));
            Assert.Contains("hg", FlagsOfMappingAt((long)block + Page + 100));
            Assert.Contains("hg", FlagsOfMappingAt((long)block + (2 * Page) + 100));
            Assert.DoesNotContain("hg", FlagsOfMappingAt((long)block + (3 * Page) + 100));
        }
        finally
        {
            NativeMemory.AlignedFree(block);
        }
    }

    [HugePagesFact]
    public unsafe void A_large_array_is_advised_and_a_small_one_is_not()
    {
        var large = GC.AllocateUninitializedArray<byte>(4 << 20, pinned: true);
        var small = new byte[HugePages.MinimumBytes / 2];

        HugePages.Advise(large);
        HugePages.Advise(small);

        // The middle 2 MB of a 4 MB array hold nothing else: only this advice can have marked them.
        fixed (byte* start = large)
        {
            Assert.Contains("hg", FlagsOfMappingAt((long)start + (large.Length / 2)));
        }

        GC.KeepAlive(small);
    }

    /// <summary>The VmFlags of the mapping in /proc/self/smaps that holds <paramref name="address"/> (hg: advised for huge pages).</summary>
    private static string[] FlagsOfMappingAt(long address)
    {
        var inside = false;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            var dash = line.IndexOf('-', StringComparison.Ordinal);
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            if (dash > 0 && space > dash && long.TryParse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var start)
                && long.TryParse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var end))
            {
                inside = address >= start && address < end;
            }
            else if (inside && line.StartsWith("VmFlags:", StringComparison.Ordinal))
            {
                return line["VmFlags:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            }
        }

        throw new InvalidOperationException($"No mapping holds 0x{address:x}.");
    }

    private sealed class HugePagesFactAttribute : FactAttribute
    {
        public HugePagesFactAttribute()
        {
            if (!HugePages.Enabled)
            {
                Skip = "Transparent huge pages are not in madvise mode here (Linux only): advice changes nothing.";
            }
        }
    }
}
