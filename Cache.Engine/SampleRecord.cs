using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Cache.Engine;

/// <summary>
/// One key and value in a chunk of a <see cref="SampleTable"/>: a 16-byte header (key length, value
/// length, an in-place-overwrite sequence number, flags), the key's bytes, the value's bytes, padded to 8.
/// A view of the chunk array and an offset: no object per entry. The same handshakes as
/// <see cref="StoreEntry"/>: a value handed out as memory is never overwritten in place; copiers check
/// the sequence number.
/// </summary>
internal readonly struct SampleRecord
{
    public const int HeaderBytes = 16;
    private const int SharedFlag = unchecked((int)0x8000_0000);

    public SampleRecord(byte[] chunk, int offset)
    {
        Chunk = chunk;
        Offset = offset;
    }

    /// <summary>The chunk the record lives in (null for "no record").</summary>
    public byte[] Chunk { get; }

    public int Offset { get; }

    public bool IsEmpty => Chunk is null;

    public int KeyLength => Int(0);

    public int ValueLength => Int(4);

    /// <summary>The bytes this record takes in its chunk.</summary>
    public int Bytes => SizeOf(KeyLength, ValueLength);

    public ReadOnlySpan<byte> KeySpan => Chunk.AsSpan(Offset + HeaderBytes, KeyLength);

    /// <summary>The value, for a caller holding the key's stripe lock that does not keep it past the call, or that copies it under the version check.</summary>
    public ReadOnlySpan<byte> ValueSpan => Chunk.AsSpan(Offset + HeaderBytes + KeyLength, ValueLength);

    /// <summary>The in-place-overwrite sequence number: odd while a write is in progress.</summary>
    public ref int Version => ref IntRef(8);

    private ref int Flags => ref IntRef(12);

    public bool Shared => (Volatile.Read(ref Flags) & SharedFlag) != 0;

    /// <summary>Bytes a record of these lengths takes: header, key, value, rounded up to 8 (ints of the header stay aligned).</summary>
    public static int SizeOf(int keyLength, int valueLength) => (int)Math.Min(int.MaxValue - 7L, ((long)HeaderBytes + keyLength + valueLength + 7) & ~7L);

    /// <summary>Writes a fresh record (not shared, version 0) at <paramref name="offset"/>.</summary>
    public static SampleRecord Write(byte[] chunk, int offset, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        var span = chunk.AsSpan(offset);
        MemoryMarshal.Write(span, key.Length);
        MemoryMarshal.Write(span[4..], value.Length);
        MemoryMarshal.Write(span[8..], 0L);
        key.CopyTo(span[HeaderBytes..]);
        value.CopyTo(span[(HeaderBytes + key.Length)..]);
        return new SampleRecord(chunk, offset);
    }

    /// <summary>
    /// True when a record whose key is <paramref name="key"/> sits at <paramref name="offset"/>. Safe on
    /// any bytes: a reader racing a writer may look at a stale offset (its result is then discarded by the
    /// segment's version check), so every length is checked against the chunk before it is used.
    /// </summary>
    public static bool KeyMatches(byte[] chunk, int offset, ReadOnlySpan<byte> key)
    {
        if ((uint)offset > (uint)(chunk.Length - HeaderBytes))
        {
            return false;
        }

        var keyLength = MemoryMarshal.Read<int>(chunk.AsSpan(offset));
        return keyLength == key.Length
            && (long)offset + HeaderBytes + keyLength <= chunk.Length
            && chunk.AsSpan(offset + HeaderBytes, keyLength).SequenceEqual(key);
    }

    /// <summary>True when the record's lengths lie within its chunk (a reader's check before it trusts a record it found without a lock).</summary>
    public bool IsWellFormed
    {
        get
        {
            var keyLength = KeyLength;
            var valueLength = ValueLength;
            return keyLength >= 0 && valueLength >= 0 && (long)Offset + HeaderBytes + keyLength + valueLength <= Chunk.Length;
        }
    }

    /// <summary>The value as memory that may leave the store: from now on its bytes are never overwritten in place.</summary>
    public ReadOnlyMemory<byte> ShareValue()
    {
        if (!Shared)
        {
            // Interlocked: a full fence between publishing the flag and reading the version (the Dekker
            // handshake with TryOverwriteLocked, as in StoreEntry.ShareValue).
            Interlocked.Or(ref Flags, SharedFlag);
        }

        WaitForWriter();
        return new ReadOnlyMemory<byte>(Chunk, Offset + HeaderBytes + KeyLength, ValueLength);
    }

    /// <summary>Starts copying the value out in pieces: until <see cref="EndCopy"/>, no writer overwrites it in place.</summary>
    public void BeginCopy()
    {
        Interlocked.Increment(ref Flags);
        WaitForWriter();
    }

    public void EndCopy() => Interlocked.Decrement(ref Flags);

    /// <summary>Overwrites the value in place (same length); false, changing nothing, when it was shared or is being copied out. Caller holds the key's stripe lock.</summary>
    public bool TryOverwriteLocked(ReadOnlySpan<byte> value)
    {
        ref var version = ref Version;
        var before = version;
        Volatile.Write(ref version, before + 1);
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref Flags) != 0)
        {
            Volatile.Write(ref version, before + 2);
            return false;
        }

        value.CopyTo(Chunk.AsSpan(Offset + HeaderBytes + KeyLength, ValueLength));
        Volatile.Write(ref version, before + 2);
        return true;
    }

    private void WaitForWriter()
    {
        var spinner = default(SpinWait);
        while ((Volatile.Read(ref Version) & 1) != 0)
        {
            spinner.SpinOnce();
        }
    }

    private int Int(int at) => MemoryMarshal.Read<int>(Chunk.AsSpan(Offset + at, 4));

    private ref int IntRef(int at) => ref Unsafe.As<byte, int>(ref Chunk[Offset + at]);
}
