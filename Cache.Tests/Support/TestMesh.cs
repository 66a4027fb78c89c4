using System.Net;
using Cache.Transport;
using Cache.Transport.Peer;

namespace Cache.Tests.Support;

/// <summary>A mesh of nodes inside one test process, each with its server on a free port.</summary>
internal sealed class TestMesh : IAsyncDisposable
{
    private TestMesh(CacheNode[] nodes, PeerServer[] servers)
    {
        Nodes = nodes;
        Servers = servers;
    }

    public CacheNode[] Nodes { get; }

    public PeerServer[] Servers { get; }

    public static TestMesh Start(int size, string? secret = null, string? requirePass = null, long maxOutputBuffer = 256L << 20)
    {
        var nodes = Enumerable.Range(0, size).Select(_ => new CacheNode(new CacheNodeOptions { Capacity = 64 << 20 })).ToArray();
        var servers = nodes.Select(n => new PeerServer(n, new PeerServerOptions { Secret = secret, RequirePass = requirePass, MaxOutputBuffer = maxOutputBuffer })).ToArray();
        foreach (var server in servers)
        {
            server.Start();
        }

        var members = servers.Select(s => (EndPoint)s.EndPoint).ToArray();
        for (var rank = 0; rank < size; rank++)
        {
            nodes[rank].JoinMesh(members, rank, new PeerClientOptions { Secret = secret, RequestTimeout = TimeSpan.FromSeconds(2), BreakerWindow = TimeSpan.FromSeconds(30) });
        }

        return new TestMesh(nodes, servers);
    }

    public async Task KillAsync(int rank)
    {
        await Servers[rank].DisposeAsync();
        Nodes[rank].Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var server in Servers)
        {
            await server.DisposeAsync();
        }

        foreach (var node in Nodes)
        {
            node.Dispose();
        }
    }
}
