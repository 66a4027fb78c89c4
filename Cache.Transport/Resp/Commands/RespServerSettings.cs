using System.Net;
using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>
/// The settings RESP connections and commands read: limits, protection and the reply budget. Built once by the
/// listener from its validated options (Resp/ does not know the listener's options type). Immutable; thread-safe.
/// </summary>
internal sealed record RespServerSettings
{
    /// <summary>The address the listener binds (protected mode and CONFIG GET bind).</summary>
    public IPAddress BindAddress { get; init; } = IPAddress.Loopback;

    /// <summary>With no password and a non-loopback bind, clients from other hosts are refused.</summary>
    public bool ProtectedMode { get; init; } = true;

    /// <summary>The password RESP clients must send with AUTH; null or empty: none.</summary>
    public string? RequirePass { get; init; }

    /// <summary>Connections served at once.</summary>
    public int MaxClients { get; init; } = 10_000;

    /// <summary>The largest bulk string a client may send.</summary>
    public long MaxBulkLength { get; init; } = 512L * 1024 * 1024;

    /// <summary>Elements of one command.</summary>
    public int MaxMultibulkLength { get; init; } = 1024 * 1024;

    /// <summary>Bytes of an inline command.</summary>
    public int MaxInlineLength { get; init; } = 64 * 1024;

    /// <summary>Bytes a client may have in unfinished commands.</summary>
    public long MaxQueryBuffer { get; init; } = 1L << 30;

    /// <summary>Reply bytes a client may leave unread before it is closed.</summary>
    public long MaxOutputBuffer { get; init; } = 256L * 1024 * 1024;
}
