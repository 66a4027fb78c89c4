using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Cache.Transport.Mesh;

/// <summary>
/// The job's layout as a launcher such as torchrun puts it in the environment (<c>WORLD_SIZE</c>,
/// <c>RANK</c>, <c>LOCAL_RANK</c>, <c>MASTER_ADDR</c>), plus the cache's own: <c>CACHE_PORT</c> (the base
/// port: a process listens on <c>CACHE_PORT + LOCAL_RANK</c>, so rank 0's is <c>CACHE_PORT</c> on
/// <c>MASTER_ADDR</c>), <c>CACHE_SECRET</c>, <c>CACHE_RENDEZVOUS_TIMEOUT</c> (seconds, default 120) and
/// <c>CACHE_REQUEST_TIMEOUT_MS</c> (how long a request to a peer may take before it counts as a miss;
/// default 50) and <c>CACHE_COMPRESS_ABOVE</c> (values at least this many bytes travel LZ4-compressed
/// between peers when that saves an eighth; default 0, never).
/// </summary>
/// <param name="WorldSize">Processes in the job.</param>
/// <param name="Rank">This process's rank.</param>
/// <param name="LocalRank">This process's rank on its machine.</param>
/// <param name="Master">Rank 0's host.</param>
/// <param name="BasePort">The cache's base port.</param>
/// <param name="Secret">The mesh's shared secret, or null.</param>
/// <param name="RendezvousTimeout">How long start-up waits for every rank.</param>
public sealed record MeshEnvironment(int WorldSize, int Rank, int LocalRank, string Master, int BasePort, string? Secret, TimeSpan RendezvousTimeout)
{
    /// <summary>How long a request to a peer may take before it counts as failed (a miss).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Values at least this long travel compressed between peers (0: never); see <see cref="Peer.PeerClientOptions.CompressAbove"/>.</summary>
    public int CompressAbove { get; init; }

    /// <summary>This process's port.</summary>
    public int Port => BasePort + LocalRank;

    /// <summary>Reads the variables from <paramref name="variables"/> (the process environment when null); throws <see cref="InvalidOperationException"/> naming a missing or malformed one.</summary>
    public static MeshEnvironment Read(IReadOnlyDictionary<string, string?>? variables = null)
    {
        string? Get(string name) => variables is null ? Environment.GetEnvironmentVariable(name) : variables.GetValueOrDefault(name);
        int Int(string name, int? fallback, int min, int max)
        {
            var text = Get(name);
            if (string.IsNullOrWhiteSpace(text))
            {
                return fallback ?? throw new InvalidOperationException($"The cache mesh needs the environment variable {name}.");
            }

            return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
                ? value
                : throw new InvalidOperationException($"The environment variable {name}='{text}' must be an integer from {min} to {max}.");
        }

        var worldSize = Int("WORLD_SIZE", null, 1, 1 << 20);
        var rank = Int("RANK", null, 0, worldSize - 1);
        var localRank = Int("LOCAL_RANK", 0, 0, 1 << 16);
        var basePort = Int("CACHE_PORT", null, 1, 65535);
        if (basePort + localRank > 65535)
        {
            throw new InvalidOperationException($"CACHE_PORT {basePort} + LOCAL_RANK {localRank} is past 65535.");
        }

        var master = Get("MASTER_ADDR");
        if (string.IsNullOrWhiteSpace(master))
        {
            throw new InvalidOperationException("The cache mesh needs the environment variable MASTER_ADDR.");
        }

        var timeout = TimeSpan.FromSeconds(Int("CACHE_RENDEZVOUS_TIMEOUT", 120, 1, 86400));
        var secret = Get("CACHE_SECRET");
        var requestTimeout = TimeSpan.FromMilliseconds(Int("CACHE_REQUEST_TIMEOUT_MS", 50, 1, 600_000));
        return new MeshEnvironment(worldSize, rank, localRank, master, basePort, string.IsNullOrEmpty(secret) ? null : secret, timeout) { RequestTimeout = requestTimeout, CompressAbove = Int("CACHE_COMPRESS_ABOVE", 0, 0, int.MaxValue) };
    }

    /// <summary>Rank 0's endpoint (its address resolved now).</summary>
    public IPEndPoint MasterEndPoint()
    {
        var address = IPAddress.TryParse(Master, out var parsed) ? parsed : Dns.GetHostAddresses(Master).First(a => a.AddressFamily == AddressFamily.InterNetwork);
        return new IPEndPoint(address, BasePort);
    }

    /// <summary>The address other ranks reach this process at: the local end of a route to rank 0 (found without sending anything).</summary>
    public IPEndPoint SelfEndPoint()
    {
        var master = MasterEndPoint();
        if (IPAddress.IsLoopback(master.Address))
        {
            return new IPEndPoint(IPAddress.Loopback, Port);
        }

        using var probe = new Socket(master.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        probe.Connect(master);
        return new IPEndPoint(((IPEndPoint)probe.LocalEndPoint!).Address, Port);
    }
}
