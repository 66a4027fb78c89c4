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

    public long QueryBufferBytes { get; set; }
}
