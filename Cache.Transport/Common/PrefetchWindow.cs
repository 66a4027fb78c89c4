using Cache.Engine;

namespace Cache.Transport.Common;

/// <summary>
/// How batched reads hint their keys to the store (<see cref="BlockStore.Prefetch"/>), so that the lookups' cache
/// misses overlap: a window of <see cref="Keys"/> keys at a time. Pipelined RESP GETs and SETs, MGET and the peer
/// protocol's batched GET all use it. Stateless.
/// </summary>
internal static class PrefetchWindow
{
    /// <summary>
    /// Keys hinted at a time. Measured on 100k keys of 1 KB: 540 ns per lookup and copy one after another, 340 ns in
    /// hinted batches of 16; more in flight buys nothing on this hardware's fill buffers.
    /// </summary>
    public const int Keys = 16;

    /// <summary>Hints the keys at <paramref name="keys"/> (ranges of <paramref name="source"/>); one key alone is not worth a hint.</summary>
    public static void Hint(BlockStore store, ReadOnlySpan<byte> source, ReadOnlySpan<Range> keys)
    {
        if (keys.Length > 1)
        {
            store.Prefetch(source, keys);
        }
    }
}
