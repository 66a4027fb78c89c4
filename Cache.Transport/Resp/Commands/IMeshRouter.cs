using System.Net;
using Cache.Engine;
using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>
/// The mesh as RESP commands see it: who owns which slot, where every member listens, and a way to run a command
/// on the member that owns its keys. Implemented by Mesh/, so that Resp/ depends on neither Mesh/ nor Peer/.
/// Thread-safe.
/// </summary>
internal interface IMeshRouter
{
    /// <summary>Which member owns each hash slot.</summary>
    SlotMap Slots { get; }

    /// <summary>This node's rank.</summary>
    int Rank { get; }

    /// <summary>Every member's endpoint, in rank order.</summary>
    IReadOnlyList<EndPoint> Endpoints { get; }

    /// <summary>True when the data path already knows <paramref name="rank"/> to be down (its breaker is open): no need to wait for it.</summary>
    bool IsKnownDown(int rank);

    /// <summary>
    /// Runs an encoded command (<see cref="ForwardedCommand.Encode"/>) on member <paramref name="rank"/> and returns its RESP reply,
    /// or null when the member did not answer. The returned buffer is the caller's.
    /// </summary>
    Task<byte[]?> ForwardAsync(int rank, byte[] command);
}
