using Microsoft.Extensions.Logging;

namespace Cache.Transport.Redis;

/// <summary>Settings of a <see cref="RedisBackend"/>. Read once, at construction.</summary>
public sealed class RedisBackendOptions
{
    /// <summary>
    /// The servers, in order, each as StackExchange.Redis configuration text: <c>host:port</c>, optionally
    /// followed by <c>,password=...</c>, <c>,user=...</c> and <c>,ssl=true</c>. Standalone servers share the
    /// hash slots in equal ranges in this order; for a Redis Cluster, any of its nodes.
    /// </summary>
    public IReadOnlyList<string> Hosts { get; set; } = [];

    /// <summary>True (default): keys are spread over all hosts. False: this node uses <c>Hosts[NodeRank % Hosts.Count]</c> only (Bagua's rule).</summary>
    public bool ClusterMode { get; set; } = true;

    /// <summary>This node's index in the job (used when <see cref="ClusterMode"/> is false).</summary>
    public int NodeRank { get; set; }

    /// <summary>How long connecting may take at start-up. Default 5 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long one batched request may take before it counts as failed (a miss). Default 1 s.</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Consecutive failures after which a server is skipped for a back-off window. Default 3.</summary>
    public int BreakerThreshold { get; set; } = 3;

    /// <summary>The first back-off window; it doubles after each failed probe, up to 30 s. Default 1 s.</summary>
    public TimeSpan BreakerWindow { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Where the backend logs. Default: nowhere.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }
}
