using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Cache.Transport.Peer;

internal sealed partial class PeerClient
{
    /// <summary>One connection: a send lock, the requests waiting for answers, and the loop that reads answers.</summary>
    internal sealed partial class Connection : IDisposable
    {
        private readonly Socket _socket;
        private readonly NetworkStream _stream;
        private readonly PipeReader _reader;
        private readonly SemaphoreSlim _sendLock = new(1, 1);
        private int _broken;

        private readonly System.Runtime.CompilerServices.StrongBox<long> _received;
        private readonly TimeProvider _time;
        private long _lastReceived;
        private long _receivedBytes;
        private long _acknowledged;
        private long _acknowledgedAt;

        /// <summary>Bytes of the stream not yet consumed as whole frames, at the last read (the read loop's own).</summary>
        private long _buffered;

        private Connection(Socket socket, System.Runtime.CompilerServices.StrongBox<long> received, TimeProvider time)
        {
            _received = received;
            _time = time;
            _lastReceived = time.GetTimestamp();
            _socket = socket;
            _stream = new NetworkStream(socket, ownsSocket: true);
            _reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 256 * 1024, minimumReadSize: 64 * 1024, leaveOpen: true));
        }

        public ConcurrentDictionary<uint, TaskCompletionSource<Reply>> Pending { get; } = new();

        public bool IsBroken => Volatile.Read(ref _broken) != 0;

        /// <summary>When bytes last arrived (a <see cref="TimeProvider"/> timestamp), partial frames included.</summary>
        public long LastReceived => Volatile.Read(ref _lastReceived);

        /// <summary>Bytes received on this connection so far, partial frames included.</summary>
        public long ReceivedBytes => Volatile.Read(ref _receivedBytes);

        /// <summary>Values at least this long may travel LZ4-compressed on this connection, as both sides agreed in the handshake (0: never).</summary>
        public int CompressAbove { get; private set; }

        public static async Task<Connection> OpenAsync(EndPoint endPoint, PeerClientOptions options, System.Runtime.CompilerServices.StrongBox<long> received, TimeProvider time, CancellationToken cancellationToken)
        {
            var socket = new Socket(endPoint.AddressFamily == AddressFamily.Unspecified ? AddressFamily.InterNetwork : endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            Connection? connection = null;
            try
            {
                await socket.ConnectAsync(endPoint, cancellationToken);
                connection = new Connection(socket, received, time);
                await connection.HandshakeAsync(options, cancellationToken);
                connection.StartReceiving();
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
            // Take a free lock synchronously: an async waiter is handed the lock on release and needs a pool thread
            // to go on, and while the pool is saturated (synchronous readers waiting on their replies) it would hold
            // the lock, and every synchronous sender behind it, until one came.
            if (!_sendLock.Wait(0, CancellationToken.None))
            {
                await _sendLock.WaitAsync(cancellationToken);
            }

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

        /// <summary>
        /// When the peer's kernel was last seen acknowledging more of our bytes (a <see cref="TimeProvider"/>
        /// timestamp; 0 when never seen or where TCP_INFO is not available). Looks now, one system call.
        /// </summary>
        public long LookAtAcknowledged(TimeProvider time)
        {
            // Linux's TCP_INFO (IPPROTO_TCP option 11): struct tcp_info's tcpi_bytes_acked is the u64 at byte 120.
            const int TcpInfo = 11;
            const int BytesAckedOffset = 120;
            if (!OperatingSystem.IsLinux())
            {
                return 0;
            }

            Span<byte> info = stackalloc byte[BytesAckedOffset + sizeof(ulong)];
            try
            {
                if (_socket.GetRawSocketOption((int)SocketOptionLevel.Tcp, TcpInfo, info) >= info.Length)
                {
                    var acked = (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(info[BytesAckedOffset..]);
                    if (acked > Interlocked.Exchange(ref _acknowledged, acked))
                    {
                        Volatile.Write(ref _acknowledgedAt, time.GetTimestamp());
                    }
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or PlatformNotSupportedException)
            {
                // No such option here, or the socket is gone: no progress to report.
            }

            return Volatile.Read(ref _acknowledgedAt);
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
    }
}
