using Cache.Engine;
using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>
/// What RESP commands need of the node they serve: its store, the mesh's routing once it has joined one, and the
/// key prefixes it counts. Implemented by the facade, so that Resp/ knows nothing of it. Thread-safe.
/// </summary>
internal interface IRespHost
{
    /// <summary>The node's store.</summary>
    BlockStore Store { get; }

    /// <summary>The mesh's routing, or null while the node serves its own process only. Read per command: a node joins a mesh after its server has started.</summary>
    IMeshRouter? Router { get; }

    /// <summary>The key prefixes whose keys the store counts as they come and go (INFO's datasets section).</summary>
    IReadOnlyCollection<string> TrackedPrefixes { get; }

    /// <summary>The node's clock (the store's): command durations, the latency monitor and CLIENT PAUSE's deadline read it, so tests drive them.</summary>
    TimeProvider Time { get; }
}
