using Cache.Engine;
using Cache.Transport;

namespace Cache.Dataset;

/// <summary>The dataset layer's one door to the backend's batched reads and writes.</summary>
internal static class BackendAsync
{
    /// <summary>
    /// A batched read; with <paramref name="completeInline"/> (the loader's read-ahead, whose continuation only files
    /// the values and signals the consumer) the continuation may run on the thread that received the reply.
    /// </summary>
    public static ValueTask GetManyAsync(ICacheBackend backend, StoreKey[] keys, ReadOnlyMemory<byte>[] values, bool[] found, bool completeInline, CancellationToken cancellationToken)
    {
        // Natively asynchronous in the mesh and the Redis backend: no thread waits for a peer's reply.
        return completeInline
            ? backend.GetManyInlineAsync(keys, values, found, cancellationToken)
            : backend.GetManyAsync(keys, values, found, cancellationToken);
    }
}
