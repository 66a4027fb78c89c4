using Microsoft.Extensions.Logging;

namespace Cache.Transport.Peer;

/// <summary>Settings of a <see cref="PeerClient"/>. Read once, at construction.</summary>
public sealed class PeerClientOptions
{
    /// <summary>The cluster's identity; a peer of another cluster refuses the connection. Default "cache".</summary>
    public string ClusterId { get; set; } = "cache";

    /// <summary>The shared secret to prove (HMAC challenge; it never travels). Null: none.</summary>
    public string? Secret { get; set; }

    /// <summary>How long a request may take before it counts as failed (a miss). Default 50 ms.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>How long a RESP command forwarded to the peer (the owner of its keys) may take. Default 5 s.</summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long connecting and the handshake may take. Default 2 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Consecutive failures after which the peer is skipped for a back-off window. Default 3.</summary>
    public int BreakerThreshold { get; set; } = 3;

    /// <summary>The first back-off window; it doubles after each failed probe, up to 30 s. Default 1 s.</summary>
    public TimeSpan BreakerWindow { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Values at least this long travel LZ4-compressed (each way) when the peer agrees and compression saves
    /// an eighth; 0 (the default) never compresses. Worth it between hosts on a slow network with
    /// compressible samples; on loopback or with already compressed samples it only costs CPU.
    /// </summary>
    public int CompressAbove { get; set; }

    /// <summary>Where the client logs. Default: nowhere.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }
}
