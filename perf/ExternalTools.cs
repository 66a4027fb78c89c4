using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Perf;

/// <summary>Finding and running the external programs the harness compares against.</summary>
internal static class ExternalTools
{
    public static string? Find(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            var path = Path.Combine(dir, name);
            if (File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }

    /// <summary>A free loopback port (bound and released; a tiny race with other processes is accepted).</summary>
    public static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>Runs a program to completion and returns its standard output; throws with its error output when it fails.</summary>
    public static string Run(string program, IEnumerable<string> args, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {program}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', info.ArgumentList)} did not finish in {timeout}.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} exited with {process.ExitCode}: {error.Result}");
        }

        return output.Result;
    }

    /// <summary>Starts a server process with its output drained, and waits until it answers a PING on <paramref name="port"/>; throws naming it otherwise.</summary>
    public static Process StartServer(string name, string program, IEnumerable<string> args, int port, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!WaitForPing(port, timeout))
        {
            process.Kill();
            process.Dispose();
            throw new InvalidOperationException($"{name} did not start.");
        }

        return process;
    }

    /// <summary>Waits until something answers RESP PING on the port.</summary>
    public static bool WaitForPing(int port, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
                socket.Send("PING\r\n"u8);
                var buffer = new byte[16];
                socket.ReceiveTimeout = 1000;
                var n = socket.Receive(buffer);
                if (n > 0 && buffer[0] == (byte)'+')
                {
                    return true;
                }
            }
            catch (SocketException)
            {
            }

            Thread.Sleep(50);
        }

        return false;
    }
}

/// <summary>A redis-server the harness starts on a free loopback port, with persistence off, and kills at the end.</summary>
internal sealed class RedisServerProcess : IDisposable
{
    private readonly Process _process;

    private RedisServerProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public static RedisServerProcess? TryStart()
    {
        var path = ExternalTools.Find("redis-server");
        if (path is null)
        {
            return null;
        }

        var port = ExternalTools.FreePort();
        var process = ExternalTools.StartServer("redis-server", path, ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"], port, TimeSpan.FromSeconds(10));
        return new RedisServerProcess(process, port);
    }

    public static string Version()
    {
        var text = ExternalTools.Run(ExternalTools.Find("redis-server")!, ["--version"], TimeSpan.FromSeconds(10));
        var start = text.IndexOf("v=", StringComparison.Ordinal);
        return start < 0 ? "?" : text[(start + 2)..].Split(' ')[0];
    }

    public void Dispose()
    {
        try
        {
            _process.Kill();
            _process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }
}
