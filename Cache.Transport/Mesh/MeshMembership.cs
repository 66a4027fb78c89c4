using Cache.Engine;
using Cache.Transport.Peer;
using Cache.Transport.Resp.Commands;

namespace Cache.Transport.Mesh;

/// <summary>A node's place in a mesh: the slot map, its own rank, every member's endpoint, and a client per other member (null at its own rank). Immutable; thread-safe.</summary>
/// <param name="Slots">Which member owns each slot.</param>
/// <param name="Rank">This node's rank.</param>
/// <param name="Endpoints">Every member's endpoint, in rank order.</param>
/// <param name="Clients">One client per member, in rank order; null for this node.</param>
internal sealed record MeshMembership(SlotMap Slots, int Rank, IReadOnlyList<System.Net.EndPoint> Endpoints, IReadOnlyList<PeerClient?> Clients) : IMeshRouter
{
    private readonly PeerClient?[] _commandClients = new PeerClient?[Endpoints.Count];

    /// <summary>The options the members' clients were made with (for the connections that carry forwarded commands).</summary>
    internal PeerClientOptions ClientOptions { get; init; } = new();

    /// <summary>
    /// A second connection to a member, for RESP commands forwarded to it: a large forwarded reply then
    /// never queues in front of the data path's small, time-bound requests. Created on first use; thread-safe.
    /// </summary>
    internal PeerClient CommandClient(int rank)
    {
        var client = Volatile.Read(ref _commandClients[rank]);
        if (client is not null)
        {
            return client;
        }

        var created = new PeerClient(Endpoints[rank], ClientOptions);
        client = Interlocked.CompareExchange(ref _commandClients[rank], created, null);
        if (client is null)
        {
            return created;
        }

        created.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return client;
    }

    /// <inheritdoc />
    public bool IsKnownDown(int rank) => Clients[rank]?.Breaker.IsOpen ?? false;

    /// <inheritdoc />
    public Task<byte[]?> ForwardAsync(int rank, byte[] command) => CommandClient(rank).ExecuteAsync(command);

    /// <summary>Closes the connections made for forwarded commands.</summary>
    internal void DisposeCommandClients()
    {
        for (var i = 0; i < _commandClients.Length; i++)
        {
            Interlocked.Exchange(ref _commandClients[i], null)?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }
}
