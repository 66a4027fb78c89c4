using Cache.Engine;

namespace Cache.Transport;

/// <summary>
/// Where a dataset's samples live: the operations the dataset layer needs, on encoded values under
/// full keys (<c>{datasetName}:{key}</c>). Implementations never throw for a failing peer or
/// server: such a read is a miss and such a write is dropped and counted.
/// </summary>
/// <remarks>
/// Thread-safety: implementations are safe to call from any number of threads.
/// Buffers: values returned are immutable and never reused, so the caller may keep them but must
/// not write to them; keys and values passed to <see cref="SetMany"/> become the backend's.
/// </remarks>
public interface ICacheBackend
{
    /// <summary>A short text for logs: which backend, where.</summary>
    string Description { get; }

    /// <summary>Looks one key up.</summary>
    bool TryGet(ReadOnlySpan<byte> key, out ReadOnlyMemory<byte> value);

    /// <summary>Looks many keys up at once: <paramref name="found"/>[i] tells whether <paramref name="values"/>[i] holds key i's value.</summary>
    void GetMany(ReadOnlySpan<StoreKey> keys, Span<ReadOnlyMemory<byte>> values, Span<bool> found);

    /// <summary>Stores many entries at once; <paramref name="results"/>[i] is entry i's outcome. The backend owns the keys and values from now on.</summary>
    void SetMany(ReadOnlySpan<KeyValuePair<StoreKey, byte[]>> entries, Span<SetResult> results);

    /// <summary>
    /// As <see cref="GetMany"/>, asynchronously: no thread waits for a remote reply. The arrays behind the
    /// memories must not be touched until the task completes. Cancelling abandons the read (an
    /// <see cref="OperationCanceledException"/>); a failing peer or server is a miss, never an exception.
    /// </summary>
    ValueTask GetManyAsync(ReadOnlyMemory<StoreKey> keys, Memory<ReadOnlyMemory<byte>> values, Memory<bool> found, CancellationToken cancellationToken = default);

    /// <summary>As <see cref="SetMany"/>, asynchronously; the backend owns the keys and values from the call on. Cancelling abandons the wait for the answers (the entries then count as failed).</summary>
    ValueTask SetManyAsync(ReadOnlyMemory<KeyValuePair<StoreKey, byte[]>> entries, Memory<SetResult> results, CancellationToken cancellationToken = default);

    /// <summary>Counts the keys that start with <paramref name="prefix"/>.</summary>
    long CountKeys(ReadOnlySpan<byte> prefix);

    /// <summary>Removes the keys that start with <paramref name="prefix"/>; returns how many.</summary>
    long RemoveKeys(ReadOnlySpan<byte> prefix);
}
