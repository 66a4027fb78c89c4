using System.Net;
using System.Net.Sockets;

namespace Cache.Tests.Support;

/// <summary>A loopback port that was free a moment ago (bound and released; a race with another process is accepted in tests).</summary>
internal static class FreePort
{
    public static int Next()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>The first of <paramref name="count"/> consecutive loopback ports that were all free a moment ago.</summary>
    public static int Range(int count)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var first = Next();
            if (first + count <= 65536 && Enumerable.Range(first + 1, count - 1).All(IsFree))
            {
                return first;
            }
        }

        throw new InvalidOperationException($"no {count} consecutive free ports found");
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
