using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Cache.Transport.Peer;

internal sealed partial class PeerClient
{
    /// <summary>One connection: a send lock, the requests waiting for answers, and the loop that reads answers.</summary>
    private sealed partial class Connection : IDisposable
    {
        private readonly Socket _socket;
        private readonly NetworkStream _stream;
        private readonly PipeReader _reader;
        private readonly SemaphoreSlim _sendLock = new(1, 1);
        private int _broken;

        private readonly System.Runtime.CompilerServices.StrongBox<long> _received;

        private Connection(Socket socket, System.Runtime.CompilerServices.StrongBox<long> received)
        {
            _received = received;
            _socket = socket;
            _stream = new NetworkStream(socket, ownsSocket: true);
            _reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 256 * 1024, minimumReadSize: 64 * 1024, leaveOpen: true));
        }

        public ConcurrentDictionary<uint, TaskCompletionSource<Reply>> Pending { get; } = new();

        public bool IsBroken => Volatile.Read(ref _broken) != 0;

        /// <summary>Values at least this long may travel LZ4-compressed on this connection, as both sides agreed in the handshake (0: never).</summary>
        public int CompressAbove { get; private set; }

        public static async Task<Connection> OpenAsync(EndPoint endPoint, PeerClientOptions options, System.Runtime.CompilerServices.StrongBox<long> received, CancellationToken cancellationToken)
        {
            var socket = new Socket(endPoint.AddressFamily == AddressFamily.Unspecified ? AddressFamily.InterNetwork : endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            Connection? connection = null;
            try
            {
                await socket.ConnectAsync(endPoint, cancellationToken);
                connection = new Connection(socket, received);
                await connection.HandshakeAsync(options, cancellationToken);
                _ = connection.ReceiveLoopAsync();
                return connection;
            }
            catch
            {
                if (connection is null)
                {
                    socket.Dispose();
                }
                else
                {
                    connection.Dispose();
                }

                throw;
            }
        }

        public async Task SendAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
        {
            await _sendLock.WaitAsync(cancellationToken);
            try
            {
                await _stream.WriteAsync(frame, cancellationToken);
            }
            catch
            {
                Break();
                throw;
            }
            finally
            {
                _sendLock.Release();
            }
        }

        public void Dispose()
        {
            Break();
            _reader.Complete();
            _stream.Dispose();
        }

        private void Break()
        {
            if (Interlocked.Exchange(ref _broken, 1) == 0)
            {
                foreach (var id in Pending.Keys)
                {
                    if (Pending.TryRemove(id, out var waiting))
                    {
                        waiting.TrySetException(new IOException("The peer connection closed."));
                    }
                }
            }
        }

        private async Task ReceiveLoopAsync()
        {
            try
            {
                while (await ReadFrameAsync(CancellationToken.None) is { } reply)
                {
                    if (Pending.TryRemove(reply.Id, out var waiting))
                    {
                        waiting.TrySetResult(reply);
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
            {
            }
            finally
            {
                Break();
            }
        }
    }
}
