using Cache.Engine;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cache.Transport;

/// <summary>
/// The cache of one process: its bounded <see cref="BlockStore"/> and the routing of keys to it.
/// Every dataset of a process shares one node, obtained from <see cref="AcquireProcessNode"/>; the
/// first one fixes the capacity and policy. In this release a node serves its own process only
/// (node-local); the peer server and the routing to other processes build on this type.
/// </summary>
/// <remarks>Thread-safe. Buffer ownership as in <see cref="ICacheBackend"/>.</remarks>
public sealed partial class CacheNode : ICacheBackend, IDisposable
{
    private static readonly Lock ProcessNodeGate = new();
    private static CacheNode? s_processNode;

    private readonly ILogger _logger;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _datasets = new(StringComparer.Ordinal);
    private int _disposed;

    /// <summary>Creates a node with its own store. Throws <see cref="ArgumentException"/> naming a wrong option.</summary>
    public CacheNode(CacheNodeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Capacity <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options.Capacity), options.Capacity, "Capacity must be a positive number of bytes.");
        }

        _logger = (ILogger?)options.LoggerFactory?.CreateLogger<CacheNode>() ?? NullLogger.Instance;
        Store = new BlockStore(new BlockStoreOptions { Capacity = options.Capacity, Policy = options.Policy, Name = "node" });
    }

    /// <summary>The node's store.</summary>
    public BlockStore Store { get; }

    /// <inheritdoc />
    public string Description => $"local store ({Store.Capacity} bytes, {Store.Policy})";

    /// <summary>True once disposed.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>
    /// The process's shared node, created with <paramref name="options"/> by the first caller. A later
    /// caller asking for another capacity or policy gets the existing node, and the difference is
    /// logged as ignored (as Bagua's first dataset fixes its server's settings).
    /// </summary>
    public static CacheNode AcquireProcessNode(CacheNodeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        lock (ProcessNodeGate)
        {
            var node = s_processNode;
            if (node is null || node.IsDisposed)
            {
                s_processNode = node = new CacheNode(options);
                return node;
            }

            if (node.Store.Capacity != options.Capacity || node.Store.Policy != options.Policy)
            {
                var logger = (ILogger?)options.LoggerFactory?.CreateLogger<CacheNode>() ?? NullLogger.Instance;
                LogSettingsIgnored(logger, options.Capacity, options.Policy, node.Store.Capacity, node.Store.Policy);
            }

            return node;
        }
    }

    /// <summary>The names of the datasets that use this node (for INFO's datasets section).</summary>
    public IReadOnlyCollection<string> DatasetNames => (IReadOnlyCollection<string>)_datasets.Keys;

    /// <summary>Records that a dataset uses this node. Idempotent; thread-safe.</summary>
    public void RegisterDataset(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        _datasets.TryAdd(name, 0);
    }

    /// <inheritdoc />
    public bool TryGet(ReadOnlySpan<byte> key, out ReadOnlyMemory<byte> value) => Store.TryGet(key, out value);

    /// <inheritdoc />
    public void GetMany(ReadOnlySpan<StoreKey> keys, Span<ReadOnlyMemory<byte>> values, Span<bool> found)
    {
        for (var i = 0; i < keys.Length; i++)
        {
            found[i] = Store.TryGet(keys[i].Span, out values[i]);
        }
    }

    /// <inheritdoc />
    public void SetMany(ReadOnlySpan<KeyValuePair<StoreKey, byte[]>> entries, Span<SetResult> results)
    {
        for (var i = 0; i < entries.Length; i++)
        {
            results[i] = Store.SetOwned(entries[i].Key, entries[i].Value);
        }
    }

    /// <inheritdoc />
    public long CountKeys(ReadOnlySpan<byte> prefix) => Store.CountKeys(prefix);

    /// <inheritdoc />
    public long RemoveKeys(ReadOnlySpan<byte> prefix) => Store.RemoveKeys(prefix);

    /// <summary>Releases the store. Dispose the datasets and loaders that use the node first.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            LogDisposed(_logger, Store.Count);
            Store.Dispose();
        }
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "The process's cache already exists with capacity {ExistingCapacity} bytes and policy {ExistingPolicy}; the requested capacity {RequestedCapacity} bytes and policy {RequestedPolicy} are ignored")]
    private static partial void LogSettingsIgnored(ILogger logger, long requestedCapacity, AdmissionPolicy requestedPolicy, long existingCapacity, AdmissionPolicy existingPolicy);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Debug, Message = "Cache node disposed with {Entries} entries")]
    private static partial void LogDisposed(ILogger logger, long entries);
}
