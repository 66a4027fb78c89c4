using System.Globalization;
using Cache.Engine;
using Cache.Transport;
using Cache.Transport.Mesh;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cache.Dataset;

/// <summary>A validated, immutable copy of <see cref="CacheOptions"/> with the backend resolved.</summary>
internal sealed class CacheSettings
{
    private const int CompressAtLeastBytes = 512;
    private const int MaxDatasetNameLength = 64;

    private CacheSettings(string datasetName, int writerBufferSize, int compressAtLeast, ICacheBackend backend, ILoggerFactory loggerFactory)
    {
        DatasetName = datasetName;
        KeyPrefix = KeyEncoding.Prefix(datasetName);
        WriterBufferSize = writerBufferSize;
        CompressAtLeast = compressAtLeast;
        Backend = backend;
        LoggerFactory = loggerFactory;
    }

    public string DatasetName { get; }

    /// <summary>UTF-8 of <c>{DatasetName}:</c>.</summary>
    public byte[] KeyPrefix { get; }

    public int WriterBufferSize { get; }

    /// <summary>0 when compression is off.</summary>
    public int CompressAtLeast { get; }

    public ICacheBackend Backend { get; }

    public ILoggerFactory LoggerFactory { get; }

    /// <summary>Validates <paramref name="options"/> (throwing with the option's name) and resolves the backend.</summary>
    public static CacheSettings Resolve(CacheOptions options, int defaultWriterBufferSize)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!string.Equals(options.Backend, "redis", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"Backend '{options.Backend}' is unknown; the only backend is \"redis\".", nameof(CacheOptions.Backend));
        }

        ValidateDatasetName(options.DatasetName);
        if (options.CapacityPerNode is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(CacheOptions.CapacityPerNode), options.CapacityPerNode, "CapacityPerNode must be a positive number of bytes.");
        }

        // Checked here whatever the backend; its upper bound, the capacity, once the capacity is known (below).
        if (options.PreallocatePerNode < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(CacheOptions.PreallocatePerNode), options.PreallocatePerNode, "PreallocatePerNode must not be negative.");
        }

        var writerBufferSize = options.WriterBufferSize ?? defaultWriterBufferSize;
        if (writerBufferSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(CacheOptions.WriterBufferSize), writerBufferSize, "WriterBufferSize must be at least 1.");
        }

        if (!Enum.IsDefined(options.Policy))
        {
            throw new ArgumentOutOfRangeException(nameof(CacheOptions.Policy), options.Policy, "Policy must be Retain, Lru or Random.");
        }

        if (!Enum.IsDefined(options.Compression))
        {
            throw new ArgumentOutOfRangeException(nameof(CacheOptions.Compression), options.Compression, "Compression must be None or Lz4.");
        }

        ArgumentNullException.ThrowIfNull(options.Hosts, nameof(CacheOptions.Hosts));
        foreach (var host in options.Hosts)
        {
            ValidateHost(host);
        }

        var loggerFactory = options.LoggerFactory ?? NullLoggerFactory.Instance;
        var launch = LaunchEnvironment.Read();
        var compressAtLeast = options.Compression == SampleCompression.Lz4 ? CompressAtLeastBytes : 0;
        if (options.BackendOverride is { } custom)
        {
            return new CacheSettings(options.DatasetName, writerBufferSize, compressAtLeast, custom, loggerFactory);
        }

        if (options.Hosts.Count > 0)
        {
            var redis = SharedRedisBackends.Acquire(options.Hosts, options.ClusterMode, launch.NodeRank, loggerFactory);
            return new CacheSettings(options.DatasetName, writerBufferSize, compressAtLeast, redis, loggerFactory);
        }

        var capacityPerNode = options.CapacityPerNode ?? DefaultCapacityPerNode();
        if (options.PreallocatePerNode > capacityPerNode)
        {
            throw new ArgumentOutOfRangeException(nameof(CacheOptions.PreallocatePerNode), options.PreallocatePerNode, $"PreallocatePerNode must be at most the capacity per node ({capacityPerNode} bytes{(options.CapacityPerNode is null ? ", the default: a quarter of the memory available" : "")}).");
        }

        var nodeOptions = new CacheNodeOptions
        {
            Capacity = capacityPerNode / launch.LocalWorldSize,
            Preallocate = options.PreallocatePerNode / launch.LocalWorldSize,
            Policy = options.Policy,
            LoggerFactory = loggerFactory,
        };

        // In a job of several processes, cluster mode forms the mesh from the launcher's environment
        // (rendezvous at rank 0); otherwise each process keeps what it computes.
        var node = options.Node
            ?? (options.ClusterMode && launch.WorldSize > 1
                ? CacheNode.AcquireProcessMeshNode(nodeOptions, MeshEnvironment.Read())
                : CacheNode.AcquireProcessNode(nodeOptions));

        node.TrackKeyPrefix(options.DatasetName + ":");
        return new CacheSettings(options.DatasetName, writerBufferSize, compressAtLeast, node, loggerFactory);
    }

    private static long DefaultCapacityPerNode() => Math.Max(64L << 20, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4);

    private static void ValidateDatasetName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxDatasetNameLength)
        {
            throw new ArgumentException("DatasetName must be 1-64 characters of [A-Za-z0-9._-].", nameof(CacheOptions.DatasetName));
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                throw new ArgumentException($"DatasetName '{name}' holds '{c}'; it must be 1-64 characters of [A-Za-z0-9._-].", nameof(CacheOptions.DatasetName));
            }
        }
    }

    private static void ValidateHost(string? host)
    {
        // host:port, optionally followed by StackExchange.Redis options (",password=...,ssl=true").
        host = host?.Split(',')[0];
        var colon = host?.LastIndexOf(':') ?? -1;
        if (host is null || colon <= 0 || colon == host.Length - 1
            || !int.TryParse(host.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            || port is < 1 or > 65535)
        {
            throw new ArgumentException($"Hosts entry '{host}' is not host:port with a port from 1 to 65535.", nameof(CacheOptions.Hosts));
        }
    }
}
