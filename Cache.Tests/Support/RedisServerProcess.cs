using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Cache.Tests.Support;

/// <summary>A redis-server started by a test on a free loopback port, persistence off; killed on dispose.</summary>
internal sealed class RedisServerProcess : IDisposable
{
    private readonly Process _process;

    private RedisServerProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public string Host => $"127.0.0.1:{Port}";

    /// <summary>Starts a server; with <paramref name="clusterDirectory"/>, a Redis Cluster node keeping its cluster state file there.</summary>
    public static RedisServerProcess Start(string? password = null, string? clusterDirectory = null)
    {
        var port = Support.FreePort.Next();
        var info = new ProcessStartInfo(Executables.Find("redis-server")!) { RedirectStandardOutput = true, RedirectStandardError = true };
        var args = new List<string> { "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" };
        if (password is not null)
        {
            args.AddRange(["--requirepass", password]);
        }

        if (clusterDirectory is not null)
        {
            // The bus port defaults to port + 10000, which is past 65535 for a high ephemeral port: name a free one.
            var busPort = Support.FreePort.Next();
            while (busPort == port)
            {
                busPort = Support.FreePort.Next();
            }
            args.AddRange(["--cluster-enabled", "yes", "--cluster-config-file", $"nodes-{port}.conf", "--dir", clusterDirectory, "--cluster-node-timeout", "2000",
                "--cluster-port", busPort.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }

        args.ForEach(info.ArgumentList.Add);
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
                return new RedisServerProcess(process, port);
            }
            catch (SocketException)
            {
                Thread.Sleep(20);
            }
        }

        process.Kill();
        throw new InvalidOperationException("redis-server did not start");
    }

    /// <summary>Kills the server abruptly, as a crash would.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(5000);
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

}
