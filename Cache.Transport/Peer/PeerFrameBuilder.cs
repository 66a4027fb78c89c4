using System.Buffers;
using System.Buffers.Binary;

namespace Cache.Transport.Peer;

/// <summary>Builds one frame in a growable buffer: header space first, the payload after, the length filled in at the end. Not thread-safe.</summary>
internal sealed class PeerFrameBuilder
{
    private readonly ArrayBufferWriter<byte> _buffer = new(256);

    public PeerFrameBuilder Start(PeerOp op, uint requestId)
    {
        _buffer.ResetWrittenCount();
        _buffer.GetSpan(PeerFrame.HeaderLength)[..PeerFrame.HeaderLength].Clear();
        _buffer.Advance(PeerFrame.HeaderLength);
        Op = op;
        RequestId = requestId;
        return this;
    }

    public PeerOp Op { get; private set; }

    public uint RequestId { get; private set; }

    public PeerFrameBuilder Int32(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
        return this;
    }

    public PeerFrameBuilder Int64(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
        return this;
    }

    public PeerFrameBuilder Byte(byte value)
    {
        _buffer.GetSpan(1)[0] = value;
        _buffer.Advance(1);
        return this;
    }

    public PeerFrameBuilder Raw(ReadOnlySpan<byte> value)
    {
        _buffer.Write(value);
        return this;
    }

    public PeerFrameBuilder Bytes(ReadOnlySpan<byte> value)
    {
        Int32(value.Length);
        _buffer.Write(value);
        return this;
    }

    /// <summary>The finished frame (valid until the next <see cref="Start"/>).</summary>
    public ReadOnlyMemory<byte> Finish()
    {
        var memory = _buffer.WrittenMemory;
        var header = System.Runtime.InteropServices.MemoryMarshal.AsMemory(memory).Span;
        PeerFrame.WriteHeader(header, memory.Length - PeerFrame.HeaderLength, Op, RequestId);
        return memory;
    }
}
