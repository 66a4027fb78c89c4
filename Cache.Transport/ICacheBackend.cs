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

    /// <summary>
    /// As <see cref="GetManyAsync"/>, for a caller whose continuation after the await is short and never blocks (a
    /// loader's read-ahead, which only files the values and signals its consumer): the task may complete on the thread
    /// that received the last reply (a peer connection's reader), and the awaiting continuation then runs on that
    /// thread, with no hop through the thread pool, whose wake-up costs milliseconds on a busy machine. While such a
    /// continuation runs, no other reply on that connection is read: hand longer work to another thread. The default
    /// is <see cref="GetManyAsync"/>.
    /// </summary>
    ValueTask GetManyInlineAsync(ReadOnlyMemory<StoreKey> keys, Memory<ReadOnlyMemory<byte>> values, Memory<bool> found, CancellationToken cancellationToken = default) =>
        GetManyAsync(keys, values, found, cancellationToken);

    /// <summary>As <see cref="SetMany"/>, asynchronously; the backend owns the keys and values from the call on. Cancelling abandons the wait for the answers (the entries then count as failed).</summary>
    ValueTask SetManyAsync(ReadOnlyMemory<KeyValuePair<StoreKey, byte[]>> entries, Memory<SetResult> results, CancellationToken cancellationToken = default);

    /// <summary>
    /// As <see cref="SetManyAsync"/>, for a caller whose continuation after the await is short and never blocks (a
    /// write-behind, which counts the outcomes, stops holding the written samples readable, releases the flushes that
    /// waited for them and takes what was queued meanwhile, sending nothing from there): the task may complete on the
    /// thread that received the last answer, with no hop through the thread pool, under the same rule as
    /// <see cref="GetManyInlineAsync"/>. The default is <see cref="SetManyAsync"/>.
    /// </summary>
    ValueTask SetManyInlineAsync(ReadOnlyMemory<KeyValuePair<StoreKey, byte[]>> entries, Memory<SetResult> results, CancellationToken cancellationToken = default) =>
        SetManyAsync(entries, results, cancellationToken);

    /// <summary>Counts the keys that start with <paramref name="prefix"/>.</summary>
    long CountKeys(ReadOnlySpan<byte> prefix);

    /// <summary>Removes the keys that start with <paramref name="prefix"/>; returns how many.</summary>
    long RemoveKeys(ReadOnlySpan<byte> prefix);

    /// <summary>As <see cref="CountKeys"/>, asynchronously: no thread waits for a remote answer. The default runs <see cref="CountKeys"/> on the caller's thread.</summary>
    ValueTask<long> CountKeysAsync(ReadOnlyMemory<byte> prefix, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(CountKeys(prefix.Span));
    }

    /// <summary>As <see cref="RemoveKeys"/>, asynchronously: no thread waits for a remote answer. The default runs <see cref="RemoveKeys"/> on the caller's thread.</summary>
    ValueTask<long> RemoveKeysAsync(ReadOnlyMemory<byte> prefix, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(RemoveKeys(prefix.Span));
    }
}
