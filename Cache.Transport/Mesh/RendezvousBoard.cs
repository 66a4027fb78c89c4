using System.Net;

namespace Cache.Transport.Mesh;

/// <summary>
/// Rank 0's list of the job's endpoints during start-up: every rank reports its endpoint, and once all
/// <see cref="WorldSize"/> ranks have, each gets the whole table in rank order. Thread-safe.
/// </summary>
internal sealed class RendezvousBoard(int worldSize) : Peer.IRendezvousHost
{
    private readonly Lock _gate = new();
    private readonly string?[] _endpoints = new string?[worldSize];

    /// <summary>The number of ranks expected.</summary>
    public int WorldSize => worldSize;

    /// <summary>Records a rank's endpoint. False when the rank or world size does not fit this board, or the rank reported another endpoint before.</summary>
    public bool TryJoin(int rank, int size, string endpoint)
    {
        if (size != worldSize || rank < 0 || rank >= worldSize || !IPEndPoint.TryParse(endpoint, out _))
        {
            return false;
        }

        lock (_gate)
        {
            if (_endpoints[rank] is { } known && known != endpoint)
            {
                return false;
            }

            _endpoints[rank] = endpoint;
            return true;
        }
    }

    /// <summary>The table once complete (null before), and the ranks that have joined so far.</summary>
    public (string[]? Table, int[] Joined) Snapshot()
    {
        lock (_gate)
        {
            var joined = Enumerable.Range(0, worldSize).Where(r => _endpoints[r] is not null).ToArray();
            return (joined.Length == worldSize ? _endpoints.Select(e => e!).ToArray() : null, joined);
        }
    }
}
