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
}
