using BenchmarkDotNet.Attributes;
using Cache.Engine;

namespace Perf.Micro;

/// <summary>The slot of a dataset sample's key (Redis Cluster's CRC16 mod 16384), with and without a hash tag.</summary>
[MemoryDiagnoser]
public class HashSlotBenchmarks
{
    private readonly byte[] _plain = "imagenet-train:123456"u8.ToArray();
    private readonly byte[] _tagged = "{imagenet-train}:123456"u8.ToArray();

    /// <summary>No braces: the whole key (21 bytes) is hashed, after a scan for a tag.</summary>
    [Benchmark]
    public int Slot() => HashSlot.GetSlot(_plain);

    /// <summary>A hash tag: only the part between the braces (14 bytes) is hashed.</summary>
    [Benchmark]
    public int SlotHashTag() => HashSlot.GetSlot(_tagged);
}
