using System.Buffers;
using System.Buffers.Binary;

namespace Cache.Transport.Peer;

/// <summary>
/// Builds one frame in a growable buffer: header space first, the payload after, the length filled in at the end. Not thread-safe.
/// </summary>
/// <remarks>
/// A builder made with <c>pooled: true</c> takes its buffer from <see cref="ArrayPool{T}.Shared"/> and gives it back on
/// <see cref="Release"/>: a client builds one frame per request, and a batched write of 16 samples of 16 KB is a 256 KB frame,
/// which as a new array per request landed on the large object heap (a gen-2 collection every few requests) after growing
/// through every power of two from 256 bytes (each step a copy and fresh pages to fault in). A frame over
/// <see cref="MaxPooledBytes"/> gets an array of its own: the shared pool keeps what it is given per core, outside the
/// cache's budget, and a flush of a long backlog (1,024 samples) builds frames of several megabytes. A reused builder
/// (the server's reply) keeps its buffer for good.
/// </remarks>
internal sealed class PeerFrameBuilder
{
    /// <summary>The largest buffer taken from, and given back to, the shared pool.</summary>
    public const int MaxPooledBytes = 1 << 20;

    private const int InitialCapacity = 256;
    private readonly bool _pooled;
    private byte[] _buffer;
    private bool _rented;
    private int _written;

    public PeerFrameBuilder()
        : this(pooled: false)
    {
    }

    public PeerFrameBuilder(bool pooled)
    {
        _pooled = pooled;
        _buffer = NewBuffer(InitialCapacity);
    }

    public PeerOp Op { get; private set; }

    public uint RequestId { get; private set; }

    public PeerFrameBuilder Start(PeerOp op, uint requestId)
    {
        _written = 0;
        Span(PeerFrame.HeaderLength).Clear();
        _written = PeerFrame.HeaderLength;
        Op = op;
        RequestId = requestId;
        return this;
    }

    /// <summary>Makes room for <paramref name="bytes"/> more bytes at once, so that a frame whose size is known grows once rather than by doubling.</summary>
    public PeerFrameBuilder Reserve(long bytes)
    {
        if (bytes > 0 && bytes <= Array.MaxLength - _written)
        {
            Span((int)bytes);
        }

        return this;
    }

    public PeerFrameBuilder Int32(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(Span(4), value);
        _written += 4;
        return this;
    }

    public PeerFrameBuilder Int64(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(Span(8), value);
        _written += 8;
        return this;
    }

    public PeerFrameBuilder Byte(byte value)
    {
        Span(1)[0] = value;
        _written++;
        return this;
    }

    public PeerFrameBuilder Raw(ReadOnlySpan<byte> value)
    {
        value.CopyTo(Span(value.Length));
        _written += value.Length;
        return this;
    }

    public PeerFrameBuilder Bytes(ReadOnlySpan<byte> value)
    {
        Int32(value.Length);
        return Raw(value);
    }

    /// <summary>The finished frame (valid until the next <see cref="Start"/> or <see cref="Release"/>).</summary>
    public ReadOnlyMemory<byte> Finish()
    {
        PeerFrame.WriteHeader(_buffer.AsSpan(0, _written), _written - PeerFrame.HeaderLength, Op, RequestId);
        return _buffer.AsMemory(0, _written);
    }

    /// <summary>
    /// Gives a pooled buffer back; the builder is empty afterwards. Call it only once nothing reads the frame any more (the
    /// send has completed): a send that failed may still hold the buffer, so on failure the builder is left to the collector.
    /// </summary>
    public void Release()
    {
        if (_rented)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _rented = false;
        }

        _buffer = [];
        _written = 0;
    }

    private Span<byte> Span(int size)
    {
        if (_buffer.Length - _written < size)
        {
            Grow(size);
        }

        return _buffer.AsSpan(_written, size);
    }

    private void Grow(int size)
    {
        var needed = (long)_written + size;
        if (needed > Array.MaxLength)
        {
            throw new InvalidOperationException("A peer frame cannot be larger than the largest array.");
        }

        var length = (int)Math.Min(Array.MaxLength, Math.Max(needed, Math.Max(InitialCapacity, 2L * _buffer.Length)));
        var wasRented = _rented;
        var old = _buffer;
        var bigger = NewBuffer(length);
        old.AsSpan(0, _written).CopyTo(bigger);
        if (wasRented)
        {
            ArrayPool<byte>.Shared.Return(old);
        }

        _buffer = bigger;
    }

    /// <summary>A buffer of at least <paramref name="length"/> bytes: rented when pooled and small enough (sets <see cref="_rented"/>).</summary>
    private byte[] NewBuffer(int length)
    {
        _rented = _pooled && length <= MaxPooledBytes;
        return _rented ? ArrayPool<byte>.Shared.Rent(length) : new byte[length];
    }
}
