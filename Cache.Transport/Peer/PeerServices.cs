using Cache.Engine;

namespace Cache.Transport.Peer;

/// <summary>
/// What every peer connection of one server shares: the store, the cluster's identity and secret, the frame
/// limit, and the handlers the mesh plugs in for forwarded RESP commands and rank 0's rendezvous (Peer/ defines
/// them, Mesh/ implements them, so that Peer/ depends on neither Resp/ nor Mesh/). Thread-safe.
/// </summary>
internal sealed class PeerServices(BlockStore store, string clusterId, string? secret, long maxFrameBytes)
{
    /// <summary>The node's store.</summary>
    public BlockStore Store { get; } = store;

    /// <summary>The cluster identity a peer's hello must carry.</summary>
    public string ClusterId { get; } = clusterId;

    /// <summary>The shared secret peers prove in the handshake; null or empty: none.</summary>
    public string? Secret { get; } = secret;

    /// <summary>The largest frame accepted after the handshake.</summary>
    public long MaxFrameBytes { get; } = maxFrameBytes;

    /// <summary>Runs RESP commands forwarded by other members; null: such frames get an error.</summary>
    public IForwardedCommands? Commands { get; init; }

    /// <summary>The rendezvous board, on rank 0 during start-up; null elsewhere.</summary>
    public IRendezvousHost? Rendezvous { get; set; }
}
