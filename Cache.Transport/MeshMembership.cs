using Cache.Engine;

namespace Cache.Transport;

/// <summary>A node's place in a mesh: the slot map, its own rank, every member's endpoint, and a client per other member (null at its own rank). Immutable; thread-safe.</summary>
/// <param name="Slots">Which member owns each slot.</param>
/// <param name="Rank">This node's rank.</param>
/// <param name="Endpoints">Every member's endpoint, in rank order.</param>
/// <param name="Clients">One client per member, in rank order; null for this node.</param>
public sealed record MeshMembership(SlotMap Slots, int Rank, IReadOnlyList<System.Net.EndPoint> Endpoints, IReadOnlyList<Peer.PeerClient?> Clients);
