using System.Net;
using Cache.Transport.Resp.Commands;
using Microsoft.Extensions.Logging;

namespace Cache.Transport.Server;

/// <summary>Settings of a <see cref="PeerServer"/>. Read once, at construction.</summary>
public sealed class PeerServerOptions
{
    /// <summary>The address to listen on. Default loopback: set it explicitly to serve other hosts.</summary>
    public IPAddress BindAddress { get; set; } = IPAddress.Loopback;

    /// <summary>The TCP port; 0 picks a free one (see <see cref="PeerServer.EndPoint"/>). Default 0.</summary>
    public int Port { get; set; }

    /// <summary>The password clients must give with AUTH (Redis's <c>requirepass</c>). Null: none.</summary>
    public string? RequirePass { get; set; }

    /// <summary>As Redis's protected mode: with no password and a non-loopback bind, clients from other hosts are refused. Default true.</summary>
    public bool ProtectedMode { get; set; } = true;

    /// <summary>Most simultaneous clients; more get an error and are closed. Default 10,000.</summary>
    public int MaxClients { get; set; } = 10_000;

    /// <summary>Longest bulk string a client may send. Default 512 MB.</summary>
    public long MaxBulkLength { get; set; } = 512L * 1024 * 1024;

    /// <summary>Most elements in one command. Default 1,048,576.</summary>
    public int MaxMultibulkLength { get; set; } = 1024 * 1024;

    /// <summary>Longest inline command. Default 64 KB.</summary>
    public int MaxInlineLength { get; set; } = 64 * 1024;

    /// <summary>Most bytes a client may have buffered in unfinished commands (Redis's <c>client-query-buffer-limit</c>). Default 1 GB.</summary>
    public long MaxQueryBuffer { get; set; } = 1L << 30;

    /// <summary>
    /// Most reply bytes buffered for one client. Past half of it the server stops reading that client's
    /// commands until it reads its replies; a reply that would exceed it closes the connection (as Redis's
    /// <c>client-output-buffer-limit</c>). Default 256 MB.
    /// </summary>
    public long MaxOutputBuffer { get; set; } = 256L * 1024 * 1024;

    /// <summary>
    /// Most reply bytes left in the kernel's send queue of a RESP connection, not yet transmitted (Linux's
    /// <c>TCP_NOTSENT_LOWAT</c>); the rest waits in the connection's own buffer until the socket drains.
    /// Without it the kernel accepts megabytes of a large reply at once and then transmits them from the
    /// receiving side's acknowledgements, so that on a shared host the client pays for the server's sends
    /// (measured: a client reading 100 KB values spent 60% more CPU per reply). 0 leaves the kernel's
    /// setting. Ignored where the system has no such option, and on peer-protocol connections (a peer reads
    /// one large batch at a time, and a watermark slows that down). Default 16 KB.
    /// </summary>
    public int SendLowWatermark { get; set; } = DefaultSendLowWatermark;

    /// <summary>The default of <see cref="SendLowWatermark"/>: 16 KB.</summary>
    public const int DefaultSendLowWatermark = 16 * 1024;

    /// <summary>The cluster's identity: peers that name another one are refused (two jobs on one host cannot mix). Default "cache".</summary>
    public string ClusterId { get; set; } = "cache";

    /// <summary>The secret peers must prove they hold (HMAC challenge; the secret never travels). Null: none.</summary>
    public string? Secret { get; set; }

    /// <summary>Where the server logs. Default: nowhere.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>The part of these options RESP connections and commands read (validated by the listener first).</summary>
    internal RespServerSettings ToRespSettings() => new()
    {
        BindAddress = BindAddress,
        ProtectedMode = ProtectedMode,
        RequirePass = RequirePass,
        MaxClients = MaxClients,
        MaxBulkLength = MaxBulkLength,
        MaxMultibulkLength = MaxMultibulkLength,
        MaxInlineLength = MaxInlineLength,
        MaxQueryBuffer = MaxQueryBuffer,
        MaxOutputBuffer = MaxOutputBuffer,
    };
}
