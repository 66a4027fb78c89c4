using Cache.Transport;
using Cache.Transport.Redis;
using Microsoft.Extensions.Logging;

namespace Cache.Dataset;

/// <summary>One <see cref="RedisBackend"/> per set of hosts in a process, shared by every dataset that names them (connections are expensive; datasets are many). Thread-safe.</summary>
internal static class SharedRedisBackends
{
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, RedisBackend> Backends = new(StringComparer.Ordinal);

    public static RedisBackend Acquire(IReadOnlyList<string> hosts, bool clusterMode, int nodeRank, ILoggerFactory loggerFactory)
    {
        var key = $"{string.Join("|", hosts)}|{clusterMode}|{(clusterMode ? 0 : nodeRank)}";
        lock (Gate)
        {
            if (!Backends.TryGetValue(key, out var backend))
            {
                backend = new RedisBackend(new RedisBackendOptions { Hosts = hosts, ClusterMode = clusterMode, NodeRank = nodeRank, LoggerFactory = loggerFactory });
                Backends[key] = backend;
            }

            return backend;
        }
    }
}
