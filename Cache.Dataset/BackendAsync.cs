using Cache.Engine;
using Cache.Transport;

namespace Cache.Dataset;

/// <summary>The dataset layer's one door to the backend's batched reads and writes.</summary>
internal static class BackendAsync
{
    public static ValueTask GetManyAsync(ICacheBackend backend, StoreKey[] keys, ReadOnlyMemory<byte>[] values, bool[] found, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        backend.GetMany(keys, values, found);
        return ValueTask.CompletedTask;
    }
}
