using System.Buffers;

namespace Cache.Engine;

/// <summary>Copying a value out of the store while writers may overwrite it in place: one loop for both indexes' entries.</summary>
public sealed partial class BlockStore
{
    /// <summary>
    /// Writes a value through <typeparamref name="TFormat"/>, checked against concurrent in-place overwrites
    /// and retried, so that the bytes written are one whole value. Small values are copied under the
    /// version check; large ones (or a hot key that spoiled a few attempts) are written in pieces while
    /// writers are held off overwriting them in place.
    /// </summary>
    private static void CopyOut<TFormat, TSource>(ref TSource source, IBufferWriter<byte> output)
        where TFormat : IValueFormat
        where TSource : struct, ICopySource
    {
        for (var attempt = 0; ; attempt++)
        {
            var version = Volatile.Read(ref source.Version);
            var value = source.Snapshot();
            if ((version & 1) != 0 || value.Length > CopyOutLimit || attempt >= 8)
            {
                if (value.Length > CopyOutLimit || attempt >= 8)
                {
                    try
                    {
                        TFormat.Write(source.BeginCopy(), output);
                    }
                    finally
                    {
                        source.EndCopy();
                    }

                    return;
                }

                Thread.SpinWait(1);
                continue;
            }

            var span = output.GetSpan(value.Length + TFormat.MaxOverhead);
            var written = TFormat.Format(value, span);

            // The copy's loads must complete before the version is read again. x86 and x64 never let a
            // load pass an earlier one, so only weaker memory models need the (costly) full fence: after
            // a copy it would wait for every store of the copy to drain.
            if (!StrongLoadOrder)
            {
                Interlocked.MemoryBarrier();
            }

            if (Volatile.Read(ref source.Version) == version && source.StillCurrent())
            {
                output.Advance(written);
                return;
            }
        }
    }

    /// <summary>What <see cref="CopyOut{TFormat, TSource}"/> needs of an entry (a struct, so that the loop is specialized and nothing is boxed).</summary>
    private interface ICopySource
    {
        /// <summary>The in-place-overwrite sequence number: odd while a write is in progress.</summary>
        ref int Version { get; }

        /// <summary>The value's bytes as they are now.</summary>
        ReadOnlySpan<byte> Snapshot();

        /// <summary>True when the bytes of the last <see cref="Snapshot"/> are still the entry's (not replaced by other bytes).</summary>
        bool StillCurrent();

        /// <summary>Holds writers off overwriting the value in place and returns it.</summary>
        ReadOnlySpan<byte> BeginCopy();

        void EndCopy();
    }

    /// <summary>An entry of the general index: a replaced value is a new array.</summary>
    private struct IndexedCopySource(StoreEntry entry) : ICopySource
    {
        private byte[]? _data;

        public readonly ref int Version => ref entry.Version;

        public ReadOnlySpan<byte> Snapshot()
        {
            _data = entry.Data;
            return _data.AsSpan(entry.KeyLength);
        }

        public readonly bool StillCurrent() => ReferenceEquals(entry.Data, _data);

        public readonly ReadOnlySpan<byte> BeginCopy() => entry.BeginCopy().AsSpan(entry.KeyLength);

        public readonly void EndCopy() => entry.EndCopy();
    }

    /// <summary>A sample's record: a replaced record is never changed again (chunks are append-only), so only the version can move.</summary>
    private readonly struct SampleCopySource(SampleRecord record) : ICopySource
    {
        public ref int Version => ref record.Version;

        public ReadOnlySpan<byte> Snapshot() => record.ValueSpan;

        public bool StillCurrent() => true;

        public ReadOnlySpan<byte> BeginCopy()
        {
            record.BeginCopy();
            return record.ValueSpan;
        }

        public void EndCopy() => record.EndCopy();
    }
}
