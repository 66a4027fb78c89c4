using System.Net;
using Cache.Transport.Mesh;
using Cache.Transport.Server;

namespace Cache.Transport;

/// <summary>
/// A node's TCP port: RESP for redis-cli, redis-benchmark and any Redis client, and the native peer protocol
/// for the other members of a mesh, on one port (a connection's first byte picks the protocol: the peer
/// protocol's preamble opens with a NUL byte, which no RESP command begins with).
/// </summary>
/// <remarks>Thread-safe. Start once; dispose to stop listening and close every connection.</remarks>
public sealed class PeerServer : IAsyncDisposable, IDisposable
{
    /// <summary>The first byte of the native peer protocol's preamble; RESP commands never begin with it.</summary>
    public const byte PeerPreambleByte = 0x00;

    private readonly Listener _listener;

    /// <summary>Creates a server for <paramref name="node"/>'s store. Throws <see cref="ArgumentException"/> naming a wrong option.</summary>
    public PeerServer(CacheNode node, PeerServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(node);
        _listener = new Listener(node, options);
    }

    /// <summary>The address and port the server listens on (after <see cref="Start"/>).</summary>
    public IPEndPoint EndPoint => _listener.EndPoint;

    /// <summary>Clients connected now (RESP clients and peers).</summary>
    public int ClientCount => _listener.ClientCount;

    /// <summary>Binds and starts accepting. Throws <see cref="System.Net.Sockets.SocketException"/> when the address is taken.</summary>
    public void Start() => _listener.Start();

    /// <summary>Makes this server rank 0's rendezvous point: peers report their endpoints here and receive the table.</summary>
    internal void HostRendezvous(RendezvousBoard board) => _listener.HostRendezvous(board);

    /// <summary>As <see cref="DisposeAsync"/>, blocking until the connections have ended.</summary>
    public void Dispose() => _listener.Dispose();

    /// <summary>Stops accepting, closes every connection and waits for them to end.</summary>
    public ValueTask DisposeAsync() => _listener.DisposeAsync();
}
