using Microsoft.Extensions.Logging;

namespace Cache.Transport.Peer;

/// <summary>Settings of a <see cref="PeerClient"/>. Read once, at construction.</summary>
public sealed class PeerClientOptions
{
    /// <summary>The cluster's identity; a peer of another cluster refuses the connection. Default "cache".</summary>
    public string ClusterId { get; set; } = "cache";

    /// <summary>The shared secret to prove (HMAC challenge; it never travels). Null: none.</summary>
    public string? Secret { get; set; }

    /// <summary>
    /// How long the peer may stay silent (send no byte) while a request waits before the request counts as
    /// failed (a miss). Silence, not size: a reply that keeps arriving is waited for, up to a total deadline of
    /// the larger of this and one second, plus a second per MiB sent and received. Default 50 ms.
    /// </summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// The silence allowed to a batch of writes, as <see cref="RequestTimeout"/> is to reads. Writes come from the
    /// write-behind, off the training step's path, so they can afford to wait out a peer that is busy (a large
    /// batch to parse, a collection, a crowded core) rather than lose the batch and count a failure against the
    /// peer's breaker, which would make the next reads miss. The larger of this and RequestTimeout applies. Default 250 ms.
    /// </summary>
    public TimeSpan WriteTimeout { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How long a RESP command forwarded to the peer (the owner of its keys) may take. Default 5 s.</summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long connecting and the handshake may take. Default 2 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Consecutive failures after which the peer is skipped for a back-off window. Default 3.</summary>
    public int BreakerThreshold { get; set; } = 3;

    /// <summary>The first back-off window; it doubles after each failed probe, up to 30 s. Default 1 s. (The background probe, <see cref="ProbeInterval"/>, closes the breaker as soon as the peer answers, whatever the window.)</summary>
    public TimeSpan BreakerWindow { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// While the breaker is open, the peer is pinged in the background over a fresh connection: first after
    /// 25 ms, then at doubling intervals up to this cap; the first answer closes the breaker. Default 250 ms.
    /// </summary>
    public TimeSpan ProbeInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// A member unreachable (breaker open, probes unanswered) for longer than this leaves the slot map of every
    /// member that still reaches a majority of the mesh: its slots are split over the others until it answers
    /// again. Default 10 s; <see cref="Timeout.InfiniteTimeSpan"/>: never.
    /// </summary>
    public TimeSpan FailoverAfter { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The clock of timeouts, probes and failover (tests drive it). Default: the system's.</summary>
    public TimeProvider? TimeProvider { get; set; }

    /// <summary>
    /// Values at least this long travel LZ4-compressed (each way) when the peer agrees and compression saves
    /// an eighth; 0 (the default) never compresses. Worth it between hosts on a slow network with
    /// compressible samples; on loopback or with already compressed samples it only costs CPU.
    /// </summary>
    public int CompressAbove { get; set; }

    /// <summary>Where the client logs. Default: nowhere.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }
}
