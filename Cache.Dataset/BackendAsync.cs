using Cache.Engine;
using Cache.Transport;

namespace Cache.Dataset;

/// <summary>The dataset layer's one door to the backend's batched reads and writes.</summary>
internal static class BackendAsync
{
    public static ValueTask GetManyAsync(ICacheBackend backend, StoreKey[] keys, ReadOnlyMemory<byte>[] values, bool[] found, CancellationToken cancellationToken)
    {
        // Natively asynchronous in the mesh and the Redis backend: no thread waits for a peer's reply.
        return backend.GetManyAsync(keys, values, found, cancellationToken);
    }
}
