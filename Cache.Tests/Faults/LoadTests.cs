using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Cache.Tests.Support;
using Xunit.Abstractions;

namespace Cache.Tests.Faults;

/// <summary>
/// A cache-node process at its client limit, with pipelined GET/SET traffic from several clients and hostile
/// connections at the same time (garbage, a command sent a byte at a time, a client that pipelines GETs of a
/// 1 MB value and never reads). Time is driven by a bounded loop of rounds, not by sleeping: each round every
/// client takes one step. Asserted: every PING answered, the client beyond the limit refused, and the
/// node's resident memory bounded by its capacity plus the output limits plus the runtime's own.
/// </summary>
[Trait("Category", "Slow")]
public sealed class LoadTests(ITestOutputHelper output)
{
    private const int MaxClients = 200;
    private const int Rounds = 3000;
    private const long CapacityBytes = 64L << 20;

    [Fact]
    public async Task Node_at_maxclients_under_pipelined_and_hostile_traffic_answers_every_ping_with_bounded_memory()
    {
        var port = FreePort.Next();
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "exec", Path.Combine(AppContext.BaseDirectory, "cache-node.dll"), "--port", port.ToString(CultureInfo.InvariantCulture), "--capacity", "64mb", "--maxclients", MaxClients.ToString(CultureInfo.InvariantCulture), "--policy", "lru" })
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var sockets = new List<Socket>();
        try
        {
            using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            {
                Assert.Contains("ready", await process.StandardOutput.ReadLineAsync(timeout.Token) ?? "", StringComparison.Ordinal);
            }

            _ = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
            _ = process.StandardError.BaseStream.CopyToAsync(Stream.Null);
            var endPoint = new IPEndPoint(IPAddress.Loopback, port);
            Socket Open()
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = 10_000, SendTimeout = 10_000 };
                s.Connect(endPoint);
                sockets.Add(s);
                return s;
            }

            var ping = Open();
            var big = Open();
            var bigValue = new byte[1 << 20];
            Send(big, Command("SET", "big", bigValue));
            Assert.Equal("+OK\r\n", ReadLine(big));

            var workers = Enumerable.Range(0, 4).Select(_ => Open()).ToArray();
            var hog = Open();
            hog.Blocking = false;
            var drip = Open();
            var garbage = Open();

            // Fill the node to its client limit with idle connections; one more is refused.
            while (sockets.Count < MaxClients)
            {
                Open();
            }

            Assert.Equal("+PONG\r\n", RoundTrip(ping, "PING\r\n"));

            // The node counts a connection once its own task has run, not when the kernel accepts it: wait until all
            // of them hold a slot, or the next one could take the slot of one still on its way and be served.
            for (var poll = 0; poll < 100_000 && ConnectedClients(ping) < MaxClients; poll++)
            {
            }

            Assert.Equal(MaxClients, ConnectedClients(ping));
            var extra = Open();
            Assert.StartsWith("-ERR max number of clients reached", ReadLine(extra), StringComparison.Ordinal);

            var dripBytes = Command("SET", "dripped", new byte[4096]);
            var random = new Random(13);
            var hogGet = Command("GET", "big");
            long pongs = 0, hogBytes = 0, maxRss = 0;
            var pingLatencies = new List<double>();
            for (var round = 0; round < Rounds; round++)
            {
                // Pipelined traffic: 16 commands per worker per round, all replies read.
                foreach (var worker in workers)
                {
                    var batch = new StringBuilder();
                    for (var k = 0; k < 16; k++)
                    {
                        var key = $"k{random.Next(10_000)}";
                        batch.Append(k % 2 == 0 ? $"*2\r\n$3\r\nGET\r\n${key.Length}\r\n{key}\r\n" : $"*3\r\n$3\r\nSET\r\n${key.Length}\r\n{key}\r\n$4\r\nvvvv\r\n");
                    }

                    Send(worker, Encoding.ASCII.GetBytes(batch.ToString()));
                    for (var k = 0; k < 16; k++)
                    {
                        ReadReply(worker);
                    }
                }

                // Hostile: a command a byte per round; garbage (a protocol error closes it: reconnect);
                // GETs of the 1 MB value that are never read (the node stops reading, then closes it past its output limit).
                if (round < dripBytes.Length)
                {
                    Send(drip, dripBytes.AsSpan(round, 1));
                }

                if (round % 50 == 0)
                {
                    var noise = new byte[256];
                    random.NextBytes(noise);
                    if (!TrySend(garbage, noise))
                    {
                        sockets.Remove(garbage);
                        garbage.Dispose();
                        garbage = Open();
                    }
                }

                hogBytes += TrySendSome(hog, hogGet);

                var watch = Stopwatch.StartNew();
                if (RoundTrip(ping, "PING\r\n") == "+PONG\r\n")
                {
                    pongs++;
                }

                pingLatencies.Add(watch.Elapsed.TotalMilliseconds);
                if (round % 100 == 0)
                {
                    process.Refresh();
                    maxRss = Math.Max(maxRss, process.WorkingSet64);
                }
            }

            pingLatencies.Sort();
            output.WriteLine($"{Rounds} rounds, {MaxClients} clients: {pongs} PONGs, PING p50 {pingLatencies[Rounds / 2]:0.000} ms, p99 {pingLatencies[Rounds * 99 / 100]:0.000} ms, max {pingLatencies[^1]:0.0} ms; " +
                $"the hog sent {hogBytes / 1024} KB of GETs for {hogBytes / hogGet.Length} MB of replies it never read; node RSS at most {maxRss >> 20} MB");
            Assert.Equal(Rounds, pongs);

            // Capacity, plus the output limit a client may pile up (256 MB, and half of it before the node stops
            // reading it), plus the runtime's own heap and code: generous, but far from what an unbounded node reaches.
            Assert.True(maxRss < CapacityBytes + (256L << 20) + (400L << 20), $"RSS {maxRss >> 20} MB");
            Assert.False(process.HasExited);
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }

            if (!process.HasExited)
            {
                process.Kill();
            }
        }
    }

    private static byte[] Command(params object[] parts)
    {
        var bytes = new List<byte>(Encoding.ASCII.GetBytes($"*{parts.Length}\r\n"));
        foreach (var part in parts)
        {
            var value = part as byte[] ?? Encoding.ASCII.GetBytes((string)part);
            bytes.AddRange(Encoding.ASCII.GetBytes($"${value.Length}\r\n"));
            bytes.AddRange(value);
            bytes.AddRange("\r\n"u8.ToArray());
        }

        return [.. bytes];
    }

    private static void Send(Socket socket, ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            bytes = bytes[socket.Send(bytes)..];
        }
    }

    private static bool TrySend(Socket socket, byte[] bytes)
    {
        try
        {
            Send(socket, bytes);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Sends what the kernel takes without waiting (the socket is non-blocking); a closed connection takes nothing.</summary>
    private static long TrySendSome(Socket socket, byte[] bytes)
    {
        try
        {
            return socket.Send(bytes, SocketFlags.None, out var error) is var sent && error == SocketError.Success ? sent : 0;
        }
        catch (ObjectDisposedException)
        {
            return 0;
        }
    }

    /// <summary>INFO clients' connected_clients, asked over <paramref name="socket"/>.</summary>
    private static int ConnectedClients(Socket socket)
    {
        Send(socket, "INFO clients\r\n"u8.ToArray());
        var header = ReadLine(socket);
        var body = new byte[int.Parse(header.AsSpan(1, header.Length - 3), CultureInfo.InvariantCulture) + 2];
        for (var read = 0; read < body.Length;)
        {
            read += socket.Receive(body, read, body.Length - read, SocketFlags.None);
        }

        var text = Encoding.ASCII.GetString(body);
        var at = text.IndexOf("connected_clients:", StringComparison.Ordinal) + "connected_clients:".Length;
        return int.Parse(text.AsSpan(at, text.IndexOf('\r', at) - at), CultureInfo.InvariantCulture);
    }

    private static string RoundTrip(Socket socket, string command)
    {
        Send(socket, Encoding.ASCII.GetBytes(command));
        return ReadLine(socket);
    }

    private static string ReadLine(Socket socket)
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (socket.Receive(one) == 1)
        {
            line.Append((char)one[0]);
            if (line.Length >= 2 && line[^2] == '\r' && line[^1] == '\n')
            {
                break;
            }
        }

        return line.ToString();
    }

    /// <summary>Reads one simple reply, or a bulk string with its payload.</summary>
    private static void ReadReply(Socket socket)
    {
        var line = ReadLine(socket);
        if (line.StartsWith('$') && int.Parse(line.AsSpan(1, line.Length - 3), CultureInfo.InvariantCulture) is var length and >= 0)
        {
            var rest = new byte[length + 2];
            var read = 0;
            while (read < rest.Length)
            {
                read += socket.Receive(rest, read, rest.Length - read, SocketFlags.None);
            }
        }
    }
}
