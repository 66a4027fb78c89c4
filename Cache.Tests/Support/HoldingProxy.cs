using System.Net;
using System.Net.Sockets;

namespace Cache.Tests.Support;

/// <summary>
/// A loopback TCP proxy in front of one server, for one client connection: it forwards both ways until
/// <see cref="HoldReplies"/>, after which the server's bytes are read but kept back, so the client sees a
/// peer that has gone silent on a connection that stays open.
/// </summary>
internal sealed class HoldingProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly int _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _run;
    private volatile bool _holding;

    private HoldingProxy(int target)
    {
        _target = target;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _run = RunAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public static HoldingProxy Start(int targetPort) => new(targetPort);

    /// <summary>From now on nothing more reaches the client.</summary>
    public void HoldReplies() => _holding = true;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _run;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
        {
            // Torn down mid-copy: expected.
        }

        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
        using var server = new TcpClient();
        await server.ConnectAsync(IPAddress.Loopback, _target, _stop.Token);
        client.NoDelay = server.NoDelay = true;
        var up = CopyAsync(client.GetStream(), server.GetStream(), hold: false);
        var down = CopyAsync(server.GetStream(), client.GetStream(), hold: true);
        await Task.WhenAny(up, down);
    }

    private async Task CopyAsync(NetworkStream from, NetworkStream to, bool hold)
    {
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var read = await from.ReadAsync(buffer, _stop.Token);
            if (read == 0)
            {
                return;
            }

            if (!(hold && _holding))
            {
                await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
            }
        }
    }
}
