using System.Net;
using System.Net.Sockets;
using Cache.Engine;
using Cache.Transport;

namespace Cache.Tests.Support;

/// <summary>A node and its server on a free loopback port.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private TestServer(CacheNode node, PeerServer server)
    {
        Node = node;
        Server = server;
    }

    public CacheNode Node { get; }

    public PeerServer Server { get; }

    public int Port => Server.EndPoint.Port;

    public static TestServer Start(PeerServerOptions? options = null, long capacity = 64 << 20, AdmissionPolicy policy = AdmissionPolicy.Retain)
    {
        var node = new CacheNode(new CacheNodeOptions { Capacity = capacity, Policy = policy });
        var server = new PeerServer(node, options ?? new PeerServerOptions());
        server.Start();
        return new TestServer(node, server);
    }

    public async Task<Socket> ConnectAsync()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, Port));
        return socket;
    }

    /// <summary>Waits until the server counts <paramref name="expected"/> clients.</summary>
    public async Task<bool> WaitForClientsAsync(int expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Server.ClientCount != expected && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        return Server.ClientCount == expected;
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Node.Dispose();
    }
}
