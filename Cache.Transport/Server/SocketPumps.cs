using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Cache.Transport.Server;

/// <summary>
/// Moves bytes between a socket and a pair of pipes, as Kestrel's socket transport does: the protocols read and
/// write pipes and know nothing of sockets; a socket's end (reset or abort) completes the pipe. Stateless.
/// </summary>
internal static class SocketPumps
{
    /// <summary>Sets TCP_NOTSENT_LOWAT (see <see cref="PeerServerOptions.SendLowWatermark"/>) where the system has it.</summary>
    public static void LimitUnsentBytes(Socket socket, int bytes)
    {
        // Linux's IPPROTO_TCP option number; other systems number it differently or lack it.
        const int TcpNotSentLowWatermark = 25;
        if (bytes > 0 && OperatingSystem.IsLinux())
        {
            Span<byte> value = stackalloc byte[sizeof(int)];
            BitConverter.TryWriteBytes(value, bytes);
            socket.SetRawSocketOption((int)SocketOptionLevel.Tcp, TcpNotSentLowWatermark, value);
        }
    }

    /// <summary>
    /// Receives into <paramref name="writer"/> until the peer closes. With <paramref name="turns"/>, a connection whose
    /// receives keep completing at once gives up the event thread every <see cref="EventLoopTurns.ReceivesPerTurn"/>
    /// of them, so that it cannot keep the other connections waiting (see <see cref="EventLoopTurns"/>).
    /// </summary>
    public static async Task ReceiveAsync(Socket socket, PipeWriter writer, EventLoopTurns? turns = null)
    {
        Exception? error = null;
        var atOnce = 0;
        try
        {
            while (true)
            {
                if (turns is not null && atOnce >= EventLoopTurns.ReceivesPerTurn)
                {
                    atOnce = 0;
                    await turns.NextTurnAsync();
                }

                var memory = writer.GetMemory(8192);
                var receiving = socket.ReceiveAsync(memory, SocketFlags.None);
                atOnce = receiving.IsCompleted ? atOnce + 1 : 0;
                var received = await receiving;
                if (received == 0)
                {
                    break;
                }

                writer.Advance(received);
                var flush = await writer.FlushAsync();
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            error = ex;
        }

        await writer.CompleteAsync(error is SocketException ? error : null);
    }

    public static async Task SendAsync(Socket socket, PipeReader reader)
    {
        // Replies that span several pipe segments go out in one gathering send (sendmsg with an iovec)
        // rather than one system call per segment.
        var segments = new List<ArraySegment<byte>>();
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync();
                var buffer = result.Buffer;
                if (buffer.IsSingleSegment)
                {
                    var remaining = buffer.First;
                    while (!remaining.IsEmpty)
                    {
                        var sent = await socket.SendAsync(remaining, SocketFlags.None);
                        remaining = remaining[sent..];
                    }
                }
                else if (!buffer.IsEmpty)
                {
                    await SendGatheredAsync(socket, buffer, segments);
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }

        await reader.CompleteAsync();
    }

    private static async Task SendGatheredAsync(Socket socket, ReadOnlySequence<byte> buffer, List<ArraySegment<byte>> segments)
    {
        while (!buffer.IsEmpty)
        {
            segments.Clear();
            foreach (var memory in buffer)
            {
                if (!MemoryMarshal.TryGetArray(memory, out var segment))
                {
                    segment = new ArraySegment<byte>(memory.ToArray());
                }

                segments.Add(segment);
                if (segments.Count == 64)
                {
                    break;
                }
            }

            var sent = await socket.SendAsync(segments, SocketFlags.None);
            buffer = buffer.Slice(sent);
        }
    }
}
