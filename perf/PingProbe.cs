using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Perf;

/// <summary>
/// A connection that sends PING every few milliseconds and records each round trip: the stalls of the server's
/// event thread. It runs in a process of its own (this harness started as <c>perf ping-probe</c>), with tiered
/// compilation off, so that what it measures is the server's: in the harness's own process its thread was
/// paused by the harness's runtime (tier-1 promotions suspend every thread), which showed as the first timed
/// server's "stalls" (see the README's scale section).
/// </summary>
internal sealed class PingProbe : IDisposable
{
    private readonly Process _process;
    private List<double>? _rtts;

    public PingProbe(int port, int intervalMs)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "exec", Path.Combine(AppContext.BaseDirectory, "perf.dll"), "ping-probe", port.ToString(CultureInfo.InvariantCulture), Math.Max(1, intervalMs).ToString(CultureInfo.InvariantCulture) })
        {
            info.ArgumentList.Add(arg);
        }

        // Fully optimized from each method's first call and never compiled again: no tier-up in the probe.
        info.Environment["DOTNET_TieredCompilation"] = "0";
        _process = Process.Start(info)!;
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginErrorReadLine();
        var ready = _process.StandardOutput.ReadLine();
        if (ready != "ready")
        {
            _process.Kill();
            throw new InvalidOperationException($"The ping probe did not start: {ready}");
        }
    }

    /// <summary>Stops the probe and returns its round trips in milliseconds.</summary>
    public List<double> Stop()
    {
        if (_rtts is not null)
        {
            return _rtts;
        }

        _process.StandardInput.WriteLine("stop");
        _process.StandardInput.Close();
        var rtts = new List<double>();
        while (_process.StandardOutput.ReadLine() is { } line)
        {
            if (double.TryParse(line, NumberStyles.Float, CultureInfo.InvariantCulture, out var rtt))
            {
                rtts.Add(rtt);
            }
        }

        _process.WaitForExit();
        _rtts = rtts;
        return rtts;
    }

    public void Dispose()
    {
        Stop();
        _process.Dispose();
    }

    /// <summary>The probe process: PINGs the port every interval until a line (or the end) arrives on stdin, then prints every round trip.</summary>
    public static int ProcessMain(string[] args)
    {
        var port = int.Parse(args[0], CultureInfo.InvariantCulture);
        var intervalMs = int.Parse(args[1], CultureInfo.InvariantCulture);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
        var stop = false;
        var rtts = new List<double>(1 << 16);
        var loop = new Thread(() =>
        {
            var reply = new byte[64];
            while (!Volatile.Read(ref stop))
            {
                var start = Stopwatch.GetTimestamp();
                socket.Send("PING\r\n"u8);
                var got = 0;
                while (got < 7)
                {
                    var n = socket.Receive(reply, got, reply.Length - got, SocketFlags.None);
                    if (n == 0)
                    {
                        return;
                    }

                    got += n;
                }

                rtts.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                Thread.Sleep(intervalMs);
            }
        })
        { IsBackground = true, Name = "ping-probe" };
        loop.Start();
        Console.WriteLine("ready");
        Console.Out.Flush();
        Console.In.ReadLine();
        Volatile.Write(ref stop, true);
        loop.Join();
        foreach (var rtt in rtts)
        {
            Console.WriteLine(rtt.ToString("R", CultureInfo.InvariantCulture));
        }

        return 0;
    }
}
