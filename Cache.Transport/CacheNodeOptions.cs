using Cache.Engine;
using Microsoft.Extensions.Logging;

namespace Cache.Transport;

/// <summary>Settings of a <see cref="CacheNode"/>. Read once, at construction.</summary>
public sealed class CacheNodeOptions
{
    /// <summary>This process's byte budget (a node's capacity divided over its local processes). Must be positive.</summary>
    public long Capacity { get; set; } = 1L << 30;

    /// <summary>
    /// Bytes of store memory to commit and touch when the node is created, 0 (the default) to <see cref="Capacity"/>, as
    /// memcached's <c>-L</c>: the samples of a first epoch then land in memory the machine has already backed, and a machine
    /// that cannot provide it fails at start rather than while the cache fills (see <see cref="BlockStore.Preallocate"/>).
    /// The constructor takes as long as the touching does; a mesh member (<see cref="CacheNode.StartMesh"/>) touches it once
    /// it has joined, so that the other ranks do not wait for it at the rendezvous.
    /// </summary>
    public long Preallocate { get; set; }

    /// <summary>The store's admission policy. Default <see cref="AdmissionPolicy.Retain"/>.</summary>
    public AdmissionPolicy Policy { get; set; } = AdmissionPolicy.Retain;

    /// <summary>Where the node logs. Default: nowhere.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>The clock of the node's store (expiry, TTLs, idle times). Default <see cref="TimeProvider.System"/>; tests drive their own.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;
}
