using System.Buffers.Binary;

namespace Cache.Transport.Peer;

internal sealed partial class PeerClient
{
    internal sealed partial class Connection
    {
        /// <summary>A value at least this long is read from the socket straight into its own array, not through the read buffer.</summary>
        private const int DirectReadAtLeast = 4 * 1024;

        private Thread? _receiver;

        // The reader thread's own: the read buffer and the unconsumed bytes in it, [_start, _end).
        private byte[] _buffer = [];
        private int _start;
        private int _end;

        /// <summary>Starts the reader: a thread of its own that reads replies synchronously and completes their waiters.</summary>
        private void StartReceiving()
        {
            _receiver = new Thread(ReceiveLoop) { IsBackground = true, Name = "peer-client reader" };
            _receiver.Start();
        }

        /// <summary>
        /// Reads replies until the connection ends. The values of a <see cref="PeerOp.GetReply"/> are read each into
        /// an array of its own, straight off the socket when they are long: one copy from the kernel, no frame-sized
        /// buffer (a reply of 64 samples of 16 KB would be a 1 MB array on the large object heap, collected only by
        /// full collections, while a sample's array dies young), and a value the caller keeps holds no other value alive.
        /// Every other reply's payload is read into one new array.
        /// </summary>
        private void ReceiveLoop()
        {
            try
            {
                _buffer = new byte[256 * 1024];

                // Bytes the handshake's pipe reader already took off the socket come first.
                if (_reader.TryRead(out var early))
                {
                    if (early.Buffer.Length > _buffer.Length)
                    {
                        _buffer = new byte[early.Buffer.Length];
                    }

                    System.Buffers.BuffersExtensions.CopyTo(early.Buffer, _buffer);
                    _end = (int)early.Buffer.Length;
                    _reader.AdvanceTo(early.Buffer.End);
                }

                while (Fill(PeerFrame.HeaderLength))
                {
                    PeerFrame.TryReadHeader(_buffer.AsSpan(_start, PeerFrame.HeaderLength), out var length, out var op, out var id);
                    if (length < 0 || length > (1 << 30))
                    {
                        throw new IOException($"The peer sent a frame of {length} bytes.");
                    }

                    _start += PeerFrame.HeaderLength;
                    Reply? reply;
                    if (!Pending.ContainsKey(id))
                    {
                        // Nobody waits for it (the request timed out or was cancelled): pass over it, allocate nothing.
                        Skip(length);
                        reply = null;
                    }
                    else if (op == PeerOp.GetReply)
                    {
                        reply = new Reply(op, []) { Id = id, CompressAbove = CompressAbove, Values = ReadValues(length) };
                    }
                    else
                    {
                        var payload = new byte[length];
                        ReadInto(payload);
                        reply = new Reply(op, payload) { Id = id, CompressAbove = CompressAbove };
                    }

                    Interlocked.Add(ref _received.Value, PeerFrame.HeaderLength + length);
                    if (reply is not null && Pending.TryRemove(id, out var waiting))
                    {
                        // A waiter created for inline completion runs its continuation here (see RequestAsync).
                        waiting.TrySetResult(reply);
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or InvalidOperationException)
            {
                // The connection is gone: every waiter fails over to a miss below.
            }
            finally
            {
                Break();
            }
        }

        /// <summary>
        /// The values of a <see cref="PeerOp.GetReply"/> payload of <paramref name="length"/> bytes, as the peer framed
        /// them (i32 count, then per value an i32 length, -1 for a missing key, and the bytes); null when the payload is
        /// malformed (its rest is passed over, so the connection stays in step).
        /// </summary>
        private ReadOnlyMemory<byte>?[]? ReadValues(int length)
        {
            long remaining = length;
            if (remaining < 4)
            {
                Skip(remaining);
                return null;
            }

            var count = ReadInt32();
            remaining -= 4;
            if (count < 0 || count > remaining / 4)
            {
                Skip(remaining);
                return null;
            }

            var values = new ReadOnlyMemory<byte>?[count];
            for (var i = 0; i < count; i++)
            {
                if (remaining < 4)
                {
                    Skip(remaining);
                    return null;
                }

                var valueLength = ReadInt32();
                remaining -= 4;
                if (valueLength < 0)
                {
                    continue;
                }

                if (valueLength > remaining)
                {
                    Skip(remaining);
                    return null;
                }

                // Uninitialized: every byte is overwritten from the socket before anyone sees the array.
                var value = GC.AllocateUninitializedArray<byte>(valueLength);
                ReadInto(value);
                remaining -= valueLength;
                values[i] = value;
            }

            Skip(remaining);
            return values;
        }

        private int ReadInt32()
        {
            if (!Fill(4))
            {
                throw new IOException("The peer connection closed in the middle of a frame.");
            }

            var value = BinaryPrimitives.ReadInt32LittleEndian(_buffer.AsSpan(_start, 4));
            _start += 4;
            return value;
        }

        /// <summary>Fills <paramref name="destination"/> from the buffer, then (for a long rest) straight from the socket.</summary>
        private void ReadInto(Span<byte> destination)
        {
            var buffered = Math.Min(_end - _start, destination.Length);
            _buffer.AsSpan(_start, buffered).CopyTo(destination);
            _start += buffered;
            var rest = destination[buffered..];
            while (rest.Length >= DirectReadAtLeast)
            {
                var read = _stream.Read(rest);
                Arrived(read);
                rest = rest[read..];
            }

            if (!rest.IsEmpty)
            {
                if (!Fill(rest.Length))
                {
                    throw new IOException("The peer connection closed in the middle of a frame.");
                }

                _buffer.AsSpan(_start, rest.Length).CopyTo(rest);
                _start += rest.Length;
            }
        }

        private void Skip(long count)
        {
            while (count > 0)
            {
                if (_end == _start && !Fill(1))
                {
                    throw new IOException("The peer connection closed in the middle of a frame.");
                }

                var take = (int)Math.Min(count, _end - _start);
                _start += take;
                count -= take;
            }
        }

        /// <summary>Reads until at least <paramref name="count"/> bytes are buffered; false when the peer closed the connection first.</summary>
        private bool Fill(int count)
        {
            if (_end - _start >= count)
            {
                return true;
            }

            // Keep the unconsumed tail at the front; grow for a header or value prefix larger than the buffer (never: they are small).
            var tail = _end - _start;
            var target = count > _buffer.Length ? new byte[count] : _buffer;
            Buffer.BlockCopy(_buffer, _start, target, 0, tail);
            _buffer = target;
            _start = 0;
            _end = tail;
            while (_end < count)
            {
                var read = _stream.Read(_buffer, _end, _buffer.Length - _end);
                if (read == 0)
                {
                    return false;
                }

                Arrived(read);
                _end += read;
            }

            return true;
        }

        /// <summary>What the silence deadline looks at: bytes keep coming, even before a whole frame has.</summary>
        private void Arrived(int read)
        {
            if (read == 0)
            {
                throw new IOException("The peer connection closed in the middle of a frame.");
            }

            Interlocked.Add(ref _receivedBytes, read);
            Volatile.Write(ref _lastReceived, _time.GetTimestamp());
        }
    }
}
