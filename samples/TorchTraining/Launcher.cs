using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace TorchTraining;

/// <summary>
/// Starts this program N times on this machine with the environment a launcher such as torchrun gives
/// (WORLD_SIZE, RANK, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR on loopback) plus CACHE_PORT and
/// CACHE_SECRET, so the ranks' caches form one mesh; prefixes each rank's lines, relays the ranks' barrier
/// (each waits at the end of every epoch until all are there; a rank's share of the cache lives in its
/// process), and waits for all.
/// </summary>
internal static class Launcher
{
    private const string BarrierVariable = "TORCHTRAINING_BARRIER";
    private const string BarrierLine = "barrier";

    /// <summary>Under this launcher, waits until every rank has called it (the launcher answers on standard
    /// input once all have); otherwise returns at once.</summary>
    public static void Barrier()
    {
        if (Environment.GetEnvironmentVariable(BarrierVariable) == "stdin")
        {
            Console.WriteLine(BarrierLine);
            Console.Out.Flush();
            _ = Console.ReadLine();
        }
    }

    public static int Run(int processes, string[] args)
    {
        var path = Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell this program's path");
        string[] prefix = Path.GetFileNameWithoutExtension(path) == "dotnet" ? [typeof(Launcher).Assembly.Location] : [];
        var basePort = FreePorts(processes);
        var secret = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        var children = new List<Process>();
        var arrived = 0;
        var gate = new Lock();
        try
        {
            for (var rank = 0; rank < processes; rank++)
            {
                var info = new ProcessStartInfo(path) { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
                foreach (var arg in prefix.Concat(args))
                {
                    info.ArgumentList.Add(arg);
                }

                info.Environment["WORLD_SIZE"] = $"{processes}";
                info.Environment["RANK"] = $"{rank}";
                info.Environment["LOCAL_RANK"] = $"{rank}";
                info.Environment["LOCAL_WORLD_SIZE"] = $"{processes}";
                info.Environment["MASTER_ADDR"] = "127.0.0.1";
                info.Environment["CACHE_PORT"] = $"{basePort}";
                info.Environment["CACHE_SECRET"] = secret;
                info.Environment[BarrierVariable] = "stdin";

                // The ranks share this machine's cores with each other (and with whatever else runs): a busy
                // peer can take longer than the default 50 ms to answer, and a late answer is a miss.
                info.Environment["CACHE_REQUEST_TIMEOUT_MS"] = Environment.GetEnvironmentVariable("CACHE_REQUEST_TIMEOUT_MS") ?? "1000";
                var child = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {path}");
                var tag = $"[rank {rank}] ";
                child.OutputDataReceived += (_, e) =>
                {
                    if (e.Data == BarrierLine)
                    {
                        lock (gate)
                        {
                            if (++arrived == processes)
                            {
                                arrived = 0;
                                foreach (var waiting in children)
                                {
                                    waiting.StandardInput.WriteLine();
                                    waiting.StandardInput.Flush();
                                }
                            }
                        }
                    }
                    else if (e.Data is not null)
                    {
                        Console.WriteLine(tag + e.Data);
                    }
                };
                child.ErrorDataReceived += (_, e) => { if (e.Data is not null) { Console.Error.WriteLine(tag + e.Data); } };
                child.BeginOutputReadLine();
                child.BeginErrorReadLine();
                lock (gate)
                {
                    children.Add(child);
                }
            }

            var failed = 0;
            foreach (var child in children)
            {
                child.WaitForExit();
                failed += child.ExitCode == 0 ? 0 : 1;
            }

            return failed == 0 ? 0 : 1;
        }
        finally
        {
            foreach (var child in children)
            {
                if (!child.HasExited)
                {
                    child.Kill(entireProcessTree: true);
                }

                child.Dispose();
            }
        }
    }

    // Rank r listens on CACHE_PORT + r: find a run of free loopback ports.
    private static int FreePorts(int count)
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var first = Random.Shared.Next(20000, 60000 - count);
            if (Enumerable.Range(first, count).All(IsFree))
            {
                return first;
            }
        }

        throw new InvalidOperationException($"no {count} consecutive free loopback ports found");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
