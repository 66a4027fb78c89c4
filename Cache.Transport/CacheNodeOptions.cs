using Cache.Engine;
using Microsoft.Extensions.Logging;

namespace Cache.Transport;

/// <summary>Settings of a <see cref="CacheNode"/>. Read once, at construction.</summary>
public sealed class CacheNodeOptions
{
    /// <summary>This process's byte budget (a node's capacity divided over its local processes). Must be positive.</summary>
    public long Capacity { get; set; } = 1L << 30;

    /// <summary>The store's admission policy. Default <see cref="AdmissionPolicy.Retain"/>.</summary>
    public AdmissionPolicy Policy { get; set; } = AdmissionPolicy.Retain;

    /// <summary>Where the node logs. Default: nowhere.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>The clock of the node's store (expiry, TTLs, idle times). Default <see cref="TimeProvider.System"/>; tests drive their own.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;
}
