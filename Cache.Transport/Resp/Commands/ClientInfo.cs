using System.Net;
using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>What the server knows of one client, for CLIENT LIST and INFO. Written by the client's own connection; read by others without locks (a torn read is harmless).</summary>
internal sealed class ClientInfo(long id, EndPoint? remote, EndPoint? local, long connectedAtMs)
{
    public long Id { get; } = id;

    public EndPoint? Remote { get; } = remote;

    public EndPoint? Local { get; } = local;

    public long ConnectedAtMs { get; } = connectedAtMs;

    public string Name { get; set; } = "";

    public string LibName { get; set; } = "";

    public string LibVersion { get; set; } = "";

    public long LastInteractionMs { get; set; } = connectedAtMs;

    public string LastCommand { get; set; } = "NULL";

    public int Protocol { get; set; } = 2;

    /// <summary>Bytes received and not yet executed, the command being executed included.</summary>
    public long QueryBufferBytes { get; set; }

    /// <summary>Room left in the buffer that holds them.</summary>
    public long QueryBufferFree { get; set; }

    /// <summary>The socket's descriptor; -1 when there is none (tests over pipes, forwarded commands).</summary>
    public long Fd { get; set; } = -1;

    /// <summary>Commands queued by MULTI; -1 outside a transaction.</summary>
    public int Multi { get; set; } = -1;

    /// <summary>Bytes of the queued commands.</summary>
    public long MultiBytes { get; set; }

    /// <summary>True once the client sent MONITOR.</summary>
    public bool Monitoring { get; set; }

    /// <summary>CLIENT NO-EVICT: shown in the flags (this server never evicts clients).</summary>
    public bool NoEvict { get; set; }

    /// <summary>True while a command of this client is held by CLIENT PAUSE (INFO's blocked_clients, CLIENT LIST's flag b).</summary>
    public bool Blocked { get; set; }

    /// <summary>Reply bytes written and not yet handed to the socket, read by CLIENT LIST.</summary>
    public Func<long>? PendingOutput { get; set; }

    /// <summary>Closes the connection (CLIENT KILL); null when it cannot be closed from outside.</summary>
    public Action? Kill { get; set; }

    /// <summary>Set when CLIENT KILL closed the connection.</summary>
    public bool Killed { get; set; }

    /// <summary>The remote address as CLIENT LIST and MONITOR show it.</summary>
    public string Address => Remote?.ToString() ?? "peer";
}
