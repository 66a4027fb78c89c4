using System.Diagnostics;
using StackExchange.Redis;

namespace Cache.Tests.Support;

/// <summary>A Redis Cluster of three masters (no replicas) on free loopback ports, formed with redis-cli --cluster create; killed on dispose.</summary>
internal sealed class RedisClusterProcess : IDisposable
{
    private readonly string _directory;

    private RedisClusterProcess(RedisServerProcess[] nodes, string directory)
    {
        Nodes = nodes;
        _directory = directory;
    }

    public RedisServerProcess[] Nodes { get; }

    public static RedisClusterProcess Start()
    {
        var directory = Directory.CreateTempSubdirectory("redis-cluster-").FullName;
        var nodes = new List<RedisServerProcess>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                nodes.Add(RedisServerProcess.Start(clusterDirectory: directory));
            }

            var info = new ProcessStartInfo(Executables.Find("redis-cli")!) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { "--cluster", "create" }.Concat(nodes.Select(n => n.Host)).Append("--cluster-yes"))
            {
                info.ArgumentList.Add(arg);
            }

            using (var create = Process.Start(info)!)
            {
                var output = create.StandardOutput.ReadToEndAsync();
                var error = create.StandardError.ReadToEndAsync();
                if (!create.WaitForExit(30_000) || create.ExitCode != 0)
                {
                    throw new InvalidOperationException($"redis-cli --cluster create failed: {output.Result} {error.Result}");
                }
            }

            // Every node must agree that all slots are served before the test starts.
            var deadline = DateTime.UtcNow.AddSeconds(20);
            foreach (var node in nodes)
            {
                using var mux = ConnectionMultiplexer.Connect($"{node.Host},allowAdmin=true");
                while (!((string?)mux.GetServer(node.Host).Execute("CLUSTER", "INFO") ?? "").Contains("cluster_state:ok", StringComparison.Ordinal))
                {
                    if (DateTime.UtcNow > deadline)
                    {
                        throw new InvalidOperationException($"the cluster did not reach cluster_state:ok at {node.Host}");
                    }

                    Thread.Sleep(50);
                }
            }

            return new RedisClusterProcess([.. nodes], directory);
        }
        catch
        {
            nodes.ForEach(n => n.Dispose());
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var node in Nodes)
        {
            node.Dispose();
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A node may still be writing its state file as it dies; the temp folder is left behind.
        }
    }
}
