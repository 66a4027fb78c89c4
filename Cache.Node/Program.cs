using System.Runtime.InteropServices;
using Cache.Node;
using Cache.Transport;
using Cache.Transport.Server;

// Socket completions run on the event thread instead of hopping to the thread pool: the server's
// pipelines use inline schedulers, so a request is read, executed and answered on one thread. And one
// event thread, as Redis has one: with two (.NET's default for inline completions on two cores) the
// server's threads took CPU from redis-benchmark's one thread at -P 1, and switched more than they
// worked at -P 16. Same-run A/B, 3 rounds, rps vs redis-server: GET -P 1 115-125k (two threads
// 109-118k, Redis 110-116k); GET -P 16 1.01-1.19M (Redis 0.94-0.96M); SET -P 16 0.68-1.04M (Redis
// 0.78-0.83M). These must be set before the first socket is used; an explicit setting in the
// environment wins.
foreach (var (name, value) in new[] { ("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1"), ("DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT", "1") })
{
    if (Environment.GetEnvironmentVariable(name) is null)
    {
        Environment.SetEnvironmentVariable(name, value);
    }
}

NodeArguments arguments;
try
{
    if (args.Contains("--help") || args.Contains("-h"))
    {
        Console.WriteLine(NodeArguments.Usage);
        return 0;
    }

    arguments = NodeArguments.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    Console.Error.WriteLine(NodeArguments.Usage);
    return 2;
}

using var loggerFactory = new ConsoleLoggerFactory(arguments.LogLevel);
using var node = new CacheNode(new CacheNodeOptions { Capacity = arguments.Capacity, Preallocate = arguments.Preallocate, Policy = arguments.Policy, LoggerFactory = loggerFactory });
var server = new PeerServer(node, new PeerServerOptions
{
    BindAddress = arguments.Bind,
    Port = arguments.Port,
    RequirePass = arguments.RequirePass,
    ProtectedMode = arguments.ProtectedMode,
    MaxClients = arguments.MaxClients,
    SendLowWatermark = arguments.SendLowWatermark,
    Secret = arguments.Secret,
    ClusterId = arguments.ClusterId,
    LoggerFactory = loggerFactory,
});

try
{
    server.Start();
}
catch (System.Net.Sockets.SocketException ex)
{
    Console.Error.WriteLine($"cannot listen on {arguments.Bind}:{arguments.Port}: {ex.Message}");
    return 1;
}

if (arguments.Peers.Count > 0)
{
    node.JoinMesh(arguments.Peers, arguments.Rank, new Cache.Transport.Peer.PeerClientOptions
    {
        Secret = arguments.Secret,
        ClusterId = arguments.ClusterId,
        RequestTimeout = arguments.RequestTimeout,
        FailoverAfter = arguments.FailoverAfter,
        LoggerFactory = loggerFactory,
    });
}

var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
void OnSignal(PosixSignalContext context)
{
    context.Cancel = true;
    stop.TrySetResult();
}

using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

Console.WriteLine($"cache-node ready on {server.EndPoint} (capacity {arguments.Capacity} bytes, policy {arguments.Policy}, {(arguments.Peers.Count > 0 ? $"rank {arguments.Rank} of {arguments.Peers.Count}" : "standalone")}, pid {Environment.ProcessId})");
await stop.Task;
Console.WriteLine("cache-node shutting down");
await server.DisposeAsync();
Console.WriteLine("cache-node stopped");
return 0;
