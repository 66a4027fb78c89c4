using System.Net;
using Cache.Engine;
using Cache.Transport.Server;
using Cache.Transport.Common;
using Cache.Transport.Mesh;
using Cache.Transport.Peer;
using Cache.Transport.Resp.Commands;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cache.Transport;

/// <summary>
/// The cache of one process: its bounded <see cref="BlockStore"/> and the routing of keys to it.
/// Every dataset of a process shares one node, obtained from <see cref="AcquireProcessNode"/>; the
/// first one fixes the capacity and policy. Alone, a node serves its own process; after
/// <see cref="JoinMesh"/>, keys are routed by hash slot to the member that owns them (its own store for
/// its own slots, a <see cref="PeerClient"/> for the others). A failing peer is a miss, never an exception.
/// </summary>
/// <remarks>Thread-safe. Buffer ownership as in <see cref="ICacheBackend"/>.</remarks>
public sealed partial class CacheNode : ICacheBackend, IDisposable, IRespHost
{
    private static readonly Lock ProcessNodeGate = new();
    private static CacheNode? s_processNode;

    private readonly ILogger _logger;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _trackedPrefixes = new(StringComparer.Ordinal);
    private MeshMembership? _mesh;
    private PeerServer? _server;
    private int _disposed;
    private readonly TimeProvider _time;

    /// <summary>Creates a node with its own store. Throws <see cref="ArgumentException"/> naming a wrong option.</summary>
    public CacheNode(CacheNodeOptions options)
        : this(options, preallocate: true)
    {
    }

    /// <summary>The node; <paramref name="preallocate"/> false leaves <see cref="CacheNodeOptions.Preallocate"/> to the caller (a mesh member commits its memory once it has joined).</summary>
    private CacheNode(CacheNodeOptions options, bool preallocate)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Capacity <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options.Capacity), options.Capacity, "Capacity must be a positive number of bytes.");
        }

        if (options.Preallocate < 0 || options.Preallocate > options.Capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(options.Preallocate), options.Preallocate, "Preallocate must be 0 to Capacity bytes.");
        }

        _logger = (ILogger?)options.LoggerFactory?.CreateLogger<CacheNode>() ?? NullLogger.Instance;
        ArgumentNullException.ThrowIfNull(options.TimeProvider, nameof(options.TimeProvider));
        Store = new BlockStore(new BlockStoreOptions { Capacity = options.Capacity, Preallocate = preallocate ? options.Preallocate : 0, Policy = options.Policy, Name = "node", TimeProvider = options.TimeProvider });
        _time = options.TimeProvider;
    }

    /// <inheritdoc />
    TimeProvider IRespHost.Time => _time;

    /// <summary>The node's store.</summary>
    public BlockStore Store { get; }

    /// <inheritdoc />
    public string Description => Mesh is { } mesh
        ? $"mesh of {mesh.Clients.Count} nodes, rank {mesh.Rank} ({Store.Capacity} bytes here, {Store.Policy})"
        : $"local store ({Store.Capacity} bytes, {Store.Policy})";

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

    /// <summary>The key prefixes whose keys this node counts (see <see cref="TrackKeyPrefix"/>).</summary>
    public IReadOnlyCollection<string> TrackedPrefixes => (IReadOnlyCollection<string>)_trackedPrefixes.Keys;

    /// <summary>
    /// Has the store count the keys under <paramref name="prefix"/> as they come and go, so that
    /// <see cref="CountKeys"/> and INFO's datasets section answer for it without scanning every key (see
    /// <see cref="BlockStore.TrackPrefix"/>). A dataset's prefix is <c>{name}:</c>. Idempotent; thread-safe.
    /// </summary>
    public void TrackKeyPrefix(string prefix)
    {
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        if (_trackedPrefixes.TryAdd(prefix, 0))
        {
            Store.TrackPrefix(System.Text.Encoding.UTF8.GetBytes(prefix));
        }
    }

    /// <inheritdoc />
    IMeshRouter? IRespHost.Router => Mesh;

    /// <summary>The mesh this node belongs to, or null while it serves its own process only.</summary>
    internal MeshMembership? Mesh => Volatile.Read(ref _mesh);

    /// <summary>The number of members of this node's mesh (1 while it serves its own process only).</summary>
    public int MeshSize => Mesh?.Endpoints.Count ?? 1;

    /// <summary>This node's rank in its mesh (0 while it serves its own process only).</summary>
    public int MeshRank => Mesh?.Rank ?? 0;

    /// <summary>The rank of the member that owns <paramref name="key"/> (by hash slot); 0 outside a mesh.</summary>
    public int OwnerOf(ReadOnlySpan<byte> key) => Mesh?.Slots.OwnerOfKey(key) ?? 0;

    /// <summary>
    /// Joins a mesh of nodes: the 16384 hash slots are split into equal, contiguous ranges over
    /// <paramref name="members"/> in rank order, and from now on a key goes to its owner: this node's
    /// store directly (no socket, no serialization) when this node (<paramref name="rank"/>) owns it, the
    /// owner's <see cref="PeerClient"/> otherwise. A member unreachable past
    /// <see cref="PeerClientOptions.FailoverAfter"/> leaves the map until it answers again (see CacheNode.Failover.cs).
    /// Call once, after every member's server listens.
    /// </summary>
    public void JoinMesh(IReadOnlyList<EndPoint> members, int rank, PeerClientOptions clientOptions)
    {
        ArgumentNullException.ThrowIfNull(members);
        ArgumentNullException.ThrowIfNull(clientOptions);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, members.Count);
        var clients = new PeerClient?[members.Count];
        for (var i = 0; i < members.Count; i++)
        {
            clients[i] = i == rank ? null : new PeerClient(members[i], clientOptions);
        }

        if (Interlocked.CompareExchange(ref _mesh, new MeshMembership(new SlotMap(members.Count), rank, [.. members], clients) { ClientOptions = clientOptions }, null) is not null)
        {
            throw new InvalidOperationException("This node has already joined a mesh.");
        }

        StartFailover(clientOptions);
    }

    /// <summary>
    /// Creates a node that serves <paramref name="environment"/>'s port and joins the job's mesh through the
    /// rendezvous at rank 0 (which this call hosts on rank 0). Throws <see cref="TimeoutException"/> naming the
    /// ranks that never joined, <see cref="System.Net.Sockets.SocketException"/> when the port is taken.
    /// </summary>
    public static CacheNode StartMesh(CacheNodeOptions options, MeshEnvironment environment, IPAddress? bindAddress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(environment);
        var node = new CacheNode(options, preallocate: false);
        try
        {
            var master = environment.MasterEndPoint();
            var bind = bindAddress ?? (IPAddress.IsLoopback(master.Address) ? IPAddress.Loopback : IPAddress.Any);
            var server = new PeerServer(node, new PeerServerOptions { BindAddress = bind, Port = environment.Port, Secret = environment.Secret, LoggerFactory = options.LoggerFactory });
            server.Start();
            node._server = server;
            if (environment.Rank == 0)
            {
                server.HostRendezvous(new RendezvousBoard(environment.WorldSize));
            }

            var clientOptions = new PeerClientOptions { Secret = environment.Secret, RequestTimeout = environment.RequestTimeout, CompressAbove = environment.CompressAbove, LoggerFactory = options.LoggerFactory };
            var members = Rendezvous.GatherAsync(master, environment.Rank, environment.WorldSize, environment.SelfEndPoint(), clientOptions, environment.RendezvousTimeout)
                .GetAwaiter().GetResult();
            node.JoinMesh(members, environment.Rank, clientOptions);

            // After the rendezvous: touching the memory takes a while (seconds per GB on a machine that backs memory
            // lazily), and the other ranks wait for this one there.
            node.Store.Preallocate(options.Preallocate);
            return node;
        }
        catch
        {
            node.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The process's shared node in a job of several processes: created with <see cref="StartMesh"/> by the
    /// first caller, returned as is to later ones (differences of capacity or policy are logged as ignored).
    /// </summary>
    public static CacheNode AcquireProcessMeshNode(CacheNodeOptions options, MeshEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(options);
        lock (ProcessNodeGate)
        {
            var node = s_processNode;
            if (node is null || node.IsDisposed)
            {
                s_processNode = node = StartMesh(options, environment);
            }

            return node;
        }
    }

    /// <inheritdoc />
    public bool TryGet(ReadOnlySpan<byte> key, out ReadOnlyMemory<byte> value)
    {
        var mesh = Mesh;
        var owner = mesh?.Slots.OwnerOfKey(key) ?? 0;
        if (mesh is null || owner == mesh.Rank)
        {
            return Store.TryGet(key, out value);
        }

        // Synchronous end to end: the reply's reader thread wakes this one, no pool thread is needed.
        var values = mesh.Clients[owner]!.GetMany([StoreKey.Copy(key)]);
        value = values?[0] ?? default;
        return values?[0] is not null;
    }

    /// <inheritdoc />
    public void GetMany(ReadOnlySpan<StoreKey> keys, Span<ReadOnlyMemory<byte>> values, Span<bool> found)
    {
        var mesh = Mesh;
        found.Clear();
        List<(int[] Indices, PeerClient Client, PeerClient.SyncRequest Request)>? remote = null;
        if (mesh is not null)
        {
            // One request per owner, all in flight together; local keys are read meanwhile.
            remote = [];
            foreach (var group in OwnerBatch.Group(keys, mesh.Slots))
            {
                if (group.Owner != mesh.Rank)
                {
                    var client = mesh.Clients[group.Owner]!;
                    remote.Add((group.Indices, client, client.BeginGetMany(OwnerBatch.Select(keys, group))));
                }
            }
        }

        ReadLocal(keys, values, found, mesh);
        foreach (var (indices, client, request) in remote ?? [])
        {
            Scatter(indices, client.EndGetMany(request), values, found);
        }
    }

    /// <inheritdoc />
    public void SetMany(ReadOnlySpan<KeyValuePair<StoreKey, byte[]>> entries, Span<SetResult> results)
    {
        var mesh = Mesh;
        if (mesh is null)
        {
            for (var i = 0; i < entries.Length; i++)
            {
                results[i] = Store.SetOwned(entries[i].Key, entries[i].Value);
            }

            return;
        }

        var keys = new StoreKey[entries.Length];
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i] = entries[i].Key;
        }

        // One request per owner, all in flight together; each waited for as the synchronous read is: woken by the
        // connection's reader thread, no task and no pool thread involved.
        var remote = new List<(int[] Indices, PeerClient Client, PeerClient.SyncRequest Request)>();
        foreach (var group in OwnerBatch.Group(keys, mesh.Slots))
        {
            if (group.Owner == mesh.Rank)
            {
                foreach (var i in group.Indices)
                {
                    results[i] = Store.SetOwned(entries[i].Key, entries[i].Value);
                }
            }
            else
            {
                var client = mesh.Clients[group.Owner]!;
                remote.Add((group.Indices, client, client.BeginSetMany(OwnerBatch.Select(entries, group))));
            }
        }

        foreach (var (indices, client, request) in remote)
        {
            var answer = client.EndSetMany(request);
            for (var j = 0; j < indices.Length; j++)
            {
                results[indices[j]] = answer[j];
            }
        }
    }

    /// <inheritdoc />
    public long CountKeys(ReadOnlySpan<byte> prefix) => Store.CountKeys(prefix) + SumOverPeers(PeerOp.Count, prefix);

    /// <inheritdoc />
    public long RemoveKeys(ReadOnlySpan<byte> prefix) => Store.RemoveKeys(prefix) + SumOverPeers(PeerOp.Clear, prefix);

    /// <summary>
    /// Asks every other member of the mesh at once and adds up their answers (a member that fails counts 0); 0 outside
    /// a mesh. Synchronous as the synchronous read is: each reply wakes this thread from the connection's reader
    /// thread, so no task is waited on and no pool thread is needed.
    /// </summary>
    private long SumOverPeers(PeerOp op, ReadOnlySpan<byte> prefix)
    {
        if (Mesh is not { } mesh)
        {
            return 0;
        }

        var bytes = prefix.ToArray();
        var requests = mesh.Clients.Where(c => c is not null).Select(c => (Client: c!, Request: c!.BeginNumber(op, bytes))).ToArray();
        return requests.Sum(r => r.Client.EndNumber(r.Request) ?? 0);
    }

    /// <summary>Releases the store. Dispose the datasets and loaders that use the node first.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            LogDisposed(_logger, Store.Count);
            _failoverTimer?.Dispose();
            _server?.Dispose();
            foreach (var client in Mesh?.Clients ?? [])
            {
                client?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }

            Mesh?.DisposeCommandClients();

            Store.Dispose();
        }
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "The process's cache already exists with capacity {ExistingCapacity} bytes and policy {ExistingPolicy}; the requested capacity {RequestedCapacity} bytes and policy {RequestedPolicy} are ignored")]
    private static partial void LogSettingsIgnored(ILogger logger, long requestedCapacity, AdmissionPolicy requestedPolicy, long existingCapacity, AdmissionPolicy existingPolicy);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Debug, Message = "Cache node disposed with {Entries} entries")]
    private static partial void LogDisposed(ILogger logger, long entries);
}
