namespace Cache.Engine;

/// <summary>Settings of a <see cref="BlockStore"/>. Read once, at construction.</summary>
public sealed class BlockStoreOptions
{
    /// <summary>The byte budget: keys, values and <see cref="BlockStore.EntryOverhead"/> per entry. Must be positive.</summary>
    public long Capacity { get; set; } = 256L * 1024 * 1024;

    /// <summary>Bytes of record memory to commit and touch when the store is created (see <see cref="BlockStore.Preallocate"/>):
    /// 0 (the default) to Capacity. The constructor takes as long as the touching does.</summary>
    public long Preallocate { get; set; }

    /// <summary>What to do when an insert does not fit. Default <see cref="AdmissionPolicy.Retain"/>.</summary>
    public AdmissionPolicy Policy { get; set; } = AdmissionPolicy.Retain;

    /// <summary>A name for metrics and diagnostics. Default "default".</summary>
    public string Name { get; set; } = "default";

    /// <summary>Clock for expiration; tests substitute their own. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>How often expired entries are swept in the background. Default 100 ms; <see cref="TimeSpan.Zero"/> disables the sweep (expired entries are then removed when touched or when room is needed).</summary>
    public TimeSpan ExpirationSweepInterval { get; set; } = TimeSpan.FromMilliseconds(100);
}
