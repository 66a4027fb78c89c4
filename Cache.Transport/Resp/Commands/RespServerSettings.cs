using System.Net;

namespace Cache.Transport.Resp.Commands;

/// <summary>
/// The settings RESP connections and commands read, copied once by the listener from its validated options
/// (Resp/ does not know the listener's options type; their meaning is documented there). Immutable; thread-safe.
/// </summary>
/// <param name="BindAddress">The address the listener binds (protected mode, CONFIG GET bind).</param>
/// <param name="ProtectedMode">With no password and a non-loopback bind, clients from other hosts are refused.</param>
/// <param name="RequirePass">The password clients send with AUTH; null or empty: none.</param>
/// <param name="MaxClients">Connections served at once.</param>
/// <param name="MaxBulkLength">The largest bulk string a client may send.</param>
/// <param name="MaxMultibulkLength">Elements of one command.</param>
/// <param name="MaxInlineLength">Bytes of an inline command.</param>
/// <param name="MaxQueryBuffer">Bytes a client may have in unfinished commands.</param>
/// <param name="MaxOutputBuffer">Reply bytes a client may leave unread before it is closed.</param>
internal sealed record RespServerSettings(
    IPAddress BindAddress,
    bool ProtectedMode,
    string? RequirePass,
    int MaxClients,
    long MaxBulkLength,
    int MaxMultibulkLength,
    int MaxInlineLength,
    long MaxQueryBuffer,
    long MaxOutputBuffer);
