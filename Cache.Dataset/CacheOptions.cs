using Cache.Engine;
using Cache.Transport;
using Microsoft.Extensions.Logging;

namespace Cache.Dataset;

/// <summary>
/// Settings of a <see cref="CachedDataset{T}"/> or <see cref="CacheLoader{T}"/>, mirroring Bagua's
/// <c>CachedDataset</c> / <c>CacheLoader</c> arguments. Validated once, when the dataset or loader is
/// constructed (a wrong setting throws an <see cref="ArgumentException"/> whose
/// <see cref="ArgumentException.ParamName"/> is the option's name), and never read again.
/// </summary>
public sealed class CacheOptions
{
    /// <summary>The backend's name. Only <c>"redis"</c> (Bagua's name, kept): the cache served by
    /// the training processes themselves, with Redis's protocol on their ports.</summary>
    public string Backend { get; set; } = "redis";

    /// <summary>Required. 1-64 characters of <c>[A-Za-z0-9._-]</c>; samples are stored under
    /// <c>{DatasetName}:{key}</c>, so datasets sharing the cache never collide.</summary>
    public string DatasetName { get; set; } = "";

    /// <summary>Bytes of cache per node (machine). Each of the node's processes
    /// (<c>LOCAL_WORLD_SIZE</c>, default 1) gets an equal share. Null (the default) means a quarter of
    /// the memory available to this process. The first dataset of a process fixes the capacity; a
    /// later, different value is logged and ignored.</summary>
    public long? CapacityPerNode { get; set; }

    /// <summary>Bytes of cache memory per node to commit and touch when the process's cache is created, split over the
    /// node's processes as <see cref="CapacityPerNode"/> is; 0 (the default) to the capacity. As memcached's <c>-L</c>: the
    /// first epoch's samples then land in memory the machine has already backed (on a virtual machine that backs memory on
    /// first touch, fresh memory cost 1-3 ms per MB here), and a machine that cannot provide it fails at start (on Linux, the
    /// kernel's out-of-memory killer ends the process) rather than hours into the first epoch. Creating the cache takes as
    /// long as the touching does (in a job of several processes, after the rendezvous). Fixed, like the capacity, by the
    /// process's first dataset; a later, different value is ignored.</summary>
    public long PreallocatePerNode { get; set; }

    /// <summary>True (default, as Bagua): samples are sharded over all processes of the job. In a job of
    /// several processes (<c>WORLD_SIZE</c> &gt; 1) the process's node forms the mesh from the launcher's
    /// environment (<c>RANK</c>, <c>LOCAL_RANK</c>, <c>MASTER_ADDR</c>, and <c>CACHE_PORT</c>: the base port,
    /// each process listening on <c>CACHE_PORT + LOCAL_RANK</c>; optional <c>CACHE_SECRET</c>,
    /// <c>CACHE_RENDEZVOUS_TIMEOUT</c>), meeting at rank 0. False: each process keeps what it computes.</summary>
    public bool ClusterMode { get; set; } = true;

    /// <summary>Existing Redis, Redis Cluster or Garnet servers (Bagua's <c>hosts</c>), each as
    /// <c>host:port</c>, optionally followed by <c>,password=...</c> and <c>,ssl=true</c>. When set, samples
    /// live there instead of in the processes: standalone servers share the hash slots in list order, a
    /// cluster routes by itself, and with <see cref="ClusterMode"/> false each node uses
    /// <c>Hosts[nodeRank % Hosts.Count]</c>. <see cref="CapacityPerNode"/> and <see cref="Policy"/> are then
    /// the servers' own (<c>maxmemory</c>, <c>maxmemory-policy</c>). A host that cannot be reached at
    /// construction, or refuses the password, throws <see cref="InvalidOperationException"/>; later
    /// failures are misses.</summary>
    public IReadOnlyList<string> Hosts { get; set; } = [];

    /// <summary>Samples buffered before a write goes to the cache; buffered samples are visible to
    /// reads. Null means the default: 20 for <see cref="CachedDataset{T}"/>, 1 for
    /// <see cref="CacheLoader{T}"/> (Bagua's defaults). Must be at least 1.</summary>
    public int? WriterBufferSize { get; set; }

    /// <summary>Samples a <see cref="CachedDataset{T}"/> keeps staged for <see cref="CachedDataset{T}.Prefetch"/>
    /// (hinted, read ahead, not yet asked for). Default 1024; 0 turns prefetching off. Must be at least 0.</summary>
    public int PrefetchCapacity { get; set; } = 1024;

    /// <summary>The store's admission policy (fixed by the process's first dataset). Default
    /// <see cref="AdmissionPolicy.Retain"/>, which reaches the best hit rate under reshuffled epochs.</summary>
    public AdmissionPolicy Policy { get; set; } = AdmissionPolicy.Retain;

    /// <summary>Whether samples are compressed in the cache. Default <see cref="SampleCompression.Lz4"/>.</summary>
    public SampleCompression Compression { get; set; } = SampleCompression.Lz4;

    /// <summary>Where the cache logs. Default: nowhere.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>A specific node to use instead of the process's shared one (tests, or a process
    /// hosting several independent caches). When set, <see cref="CapacityPerNode"/> and
    /// <see cref="Policy"/> are the node's own and are not applied. The caller owns the node.</summary>
    public CacheNode? Node { get; set; }

    /// <summary>A backend to use instead of a node or hosts (tests: a backend that records its calls).</summary>
    internal ICacheBackend? BackendOverride { get; set; }
}
