namespace Cache.Transport.Peer;

/// <summary>Rank 0's side of the start-up rendezvous, as a peer connection serves it. Thread-safe.</summary>
internal interface IRendezvousHost
{
    /// <summary>The number of ranks expected.</summary>
    int WorldSize { get; }

    /// <summary>Records a rank's endpoint. False when it does not fit, or the rank reported another endpoint before.</summary>
    bool TryJoin(int rank, int size, string endpoint);

    /// <summary>The table once complete (null before), and the ranks that have joined so far.</summary>
    (string[]? Table, int[] Joined) Snapshot();
}
