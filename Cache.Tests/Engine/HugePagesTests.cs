using System.Globalization;
using Cache.Engine;

namespace Cache.Tests.Engine;

public class HugePagesTests
{
    [HugePagesFact]
    public unsafe void An_advised_array_lies_in_a_mapping_marked_for_huge_pages()
    {
        // The middle 2 MB of a 4 MB array hold nothing else, so no other test's advice can have covered them.
        var chunk = GC.AllocateUninitializedArray<byte>(4 << 20, pinned: true);
        long address;
        fixed (byte* start = chunk)
        {
            address = (long)start + (chunk.Length / 2);
        }

        Assert.False(FlagsOfMappingAt(address).Contains("hg", StringComparer.Ordinal), "the heap was marked before any advice: the test shows nothing");

        HugePages.Advise(chunk);

        var flags = FlagsOfMappingAt(address);
        Assert.Contains("hg", flags);
        GC.KeepAlive(chunk);
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
