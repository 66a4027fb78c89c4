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
        private long _written;
        private long _ackBase = long.MinValue;
        private long _delivered;
        private long _deliveredAdvancedAt;
        private long _deliveredLookedAt;

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
                connection.AlignDelivered();
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

        /// <summary>Writes a frame; returns the connection's offset just past it (see <see cref="WrittenBytes"/>).</summary>
        public async Task<long> SendAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
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
                return Interlocked.Add(ref _written, frame.Length);
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

        /// <summary>Bytes written to the connection so far, the handshake's included (the offset just past the last frame sent).</summary>
        public long WrittenBytes => Interlocked.Read(ref _written);

        /// <summary>
        /// How many of the bytes written the peer's kernel has acknowledged (Linux's TCP_INFO; -1 where it cannot
        /// be known), and, through <see cref="DeliveredAdvancedAt"/>, when that number was last seen growing. One
        /// system call. A request whose bytes have not all been acknowledged yet is still on its way (behind
        /// others on a saturated link, say): the peer cannot be blamed for not answering it.
        /// </summary>
        public long LookAtDelivered(TimeProvider time)
        {
            var acked = ReadBytesAcked();
            if (acked < 0 || _ackBase == long.MinValue)
            {
                return -1;
            }

            var delivered = acked - _ackBase;
            var now = time.GetTimestamp();
            if (delivered > Interlocked.Exchange(ref _delivered, delivered))
            {
                Volatile.Write(ref _deliveredAdvancedAt, now);
            }

            Volatile.Write(ref _deliveredLookedAt, now);
            return delivered;
        }

        /// <summary>The acknowledged bytes at the last look (see <see cref="LookAtDelivered"/>).</summary>
        public long DeliveredSeen => Interlocked.Read(ref _delivered);

        /// <summary>When <see cref="LookAtDelivered"/> last saw the acknowledged bytes grow (a <see cref="TimeProvider"/> timestamp; 0: never).</summary>
        public long DeliveredAdvancedAt => Volatile.Read(ref _deliveredAdvancedAt);

        /// <summary>When <see cref="LookAtDelivered"/> last looked (a <see cref="TimeProvider"/> timestamp; 0: never).</summary>
        public long DeliveredLookedAt => Volatile.Read(ref _deliveredLookedAt);

        /// <summary>tcpi_bytes_acked of the socket, or -1.</summary>
        private long ReadBytesAcked()
        {
            // Linux's TCP_INFO (IPPROTO_TCP option 11): struct tcp_info's tcpi_bytes_acked is the u64 at byte 120.
            const int TcpInfo = 11;
            const int BytesAckedOffset = 120;
            if (!OperatingSystem.IsLinux())
            {
                return -1;
            }

            Span<byte> info = stackalloc byte[BytesAckedOffset + sizeof(ulong)];
            try
            {
                return _socket.GetRawSocketOption((int)SocketOptionLevel.Tcp, TcpInfo, info) >= info.Length
                    ? (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(info[BytesAckedOffset..])
                    : -1;
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or PlatformNotSupportedException)
            {
                return -1;
            }
        }

        /// <summary>
        /// Called once the handshake is answered: every byte written so far has reached the peer (it answered
        /// the last of them), so the kernel's count of acknowledged bytes and ours are aligned from here on.
        /// </summary>
        private void AlignDelivered()
        {
            var acked = ReadBytesAcked();
            _ackBase = acked < 0 ? long.MinValue : acked - WrittenBytes;
            _delivered = WrittenBytes;
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
