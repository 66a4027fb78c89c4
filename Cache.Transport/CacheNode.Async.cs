using Cache.Engine;
using Cache.Transport.Common;
using Cache.Transport.Mesh;
using Cache.Transport.Peer;

namespace Cache.Transport;

/// <summary>The asynchronous path of the node: batched reads and writes that no thread waits on, and an asynchronous dispose.</summary>
public sealed partial class CacheNode : IAsyncDisposable
{
    /// <inheritdoc />
    public ValueTask GetManyAsync(ReadOnlyMemory<StoreKey> keys, Memory<ReadOnlyMemory<byte>> values, Memory<bool> found, CancellationToken cancellationToken = default) =>
        GetManyAsync(keys, values, found, completeInline: false, cancellationToken);

    /// <inheritdoc />
    public ValueTask GetManyInlineAsync(ReadOnlyMemory<StoreKey> keys, Memory<ReadOnlyMemory<byte>> values, Memory<bool> found, CancellationToken cancellationToken = default) =>
        GetManyAsync(keys, values, found, completeInline: true, cancellationToken);

    private async ValueTask GetManyAsync(ReadOnlyMemory<StoreKey> keys, Memory<ReadOnlyMemory<byte>> values, Memory<bool> found, bool completeInline, CancellationToken cancellationToken)
    {
        var mesh = Mesh;
        found.Span.Clear();
        var remote = new List<(int[] Indices, Task<ReadOnlyMemory<byte>?[]?> Task)>();
        if (mesh is not null)
        {
            // One request per owner, all in flight together; local keys are read meanwhile.
            foreach (var group in OwnerBatch.Group(keys.Span, mesh.Slots))
            {
                if (group.Owner != mesh.Rank)
                {
                    remote.Add((group.Indices, mesh.Clients[group.Owner]!.GetManyAsync(OwnerBatch.Select(keys.Span, group), completeInline, cancellationToken)));
                }
            }
        }

        ReadLocal(keys.Span, values.Span, found.Span, mesh);
        foreach (var (indices, task) in remote)
        {
            var answer = await task.ConfigureAwait(false);
            Scatter(indices, answer, values.Span, found.Span);
        }
    }

    /// <inheritdoc />
    public ValueTask SetManyAsync(ReadOnlyMemory<KeyValuePair<StoreKey, byte[]>> entries, Memory<SetResult> results, CancellationToken cancellationToken = default) =>
        SetManyAsync(entries, results, completeInline: false, cancellationToken);

    /// <inheritdoc />
    public ValueTask SetManyInlineAsync(ReadOnlyMemory<KeyValuePair<StoreKey, byte[]>> entries, Memory<SetResult> results, CancellationToken cancellationToken = default) =>
        SetManyAsync(entries, results, completeInline: true, cancellationToken);

    private async ValueTask SetManyAsync(ReadOnlyMemory<KeyValuePair<StoreKey, byte[]>> entries, Memory<SetResult> results, bool completeInline, CancellationToken cancellationToken)
    {
        var mesh = Mesh;
        var keys = new StoreKey[entries.Length];
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i] = entries.Span[i].Key;
        }

        var remote = new List<(int[] Indices, Task<SetResult[]> Task)>();
        foreach (var group in mesh is null ? [new OwnerGroup(0, [.. Enumerable.Range(0, keys.Length)])] : OwnerBatch.Group(keys, mesh.Slots))
        {
            if (mesh is null || group.Owner == mesh.Rank)
            {
                foreach (var i in group.Indices)
                {
                    results.Span[i] = Store.SetOwned(entries.Span[i].Key, entries.Span[i].Value);
                }
            }
            else
            {
                remote.Add((group.Indices, mesh.Clients[group.Owner]!.SetManyAsync(OwnerBatch.Select(entries.Span, group), completeInline, cancellationToken)));
            }
        }

        foreach (var (indices, task) in remote)
        {
            var answer = await task.ConfigureAwait(false);
            for (var j = 0; j < indices.Length; j++)
            {
                results.Span[indices[j]] = answer[j];
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask<long> CountKeysAsync(ReadOnlyMemory<byte> prefix, CancellationToken cancellationToken = default) =>
        Store.CountKeys(prefix.Span) + await SumOverPeersAsync(prefix, static (client, bytes, token) => client.CountKeysAsync(bytes, token), cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask<long> RemoveKeysAsync(ReadOnlyMemory<byte> prefix, CancellationToken cancellationToken = default) =>
        Store.RemoveKeys(prefix.Span) + await SumOverPeersAsync(prefix, static (client, bytes, token) => client.RemoveKeysAsync(bytes, token), cancellationToken).ConfigureAwait(false);

    /// <summary>As the synchronous sum over the other members, awaited.</summary>
    private async ValueTask<long> SumOverPeersAsync(ReadOnlyMemory<byte> prefix, Func<PeerClient, byte[], CancellationToken, Task<long?>> ask, CancellationToken cancellationToken)
    {
        if (Mesh is not { } mesh)
        {
            return 0;
        }

        var bytes = prefix.ToArray();
        var answers = await Task.WhenAll(mesh.Clients.Where(c => c is not null).Select(c => ask(c!, bytes, cancellationToken))).ConfigureAwait(false);
        return answers.Sum(a => a ?? 0);
    }

    /// <summary>As <see cref="Dispose"/>, awaiting the peer connections' shutdown instead of blocking on it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            LogDisposed(_logger, Store.Count);
            if (_server is not null)
            {
                await _server.DisposeAsync().ConfigureAwait(false);
            }

            foreach (var client in Mesh?.Clients ?? [])
            {
                if (client is not null)
                {
                    await client.DisposeAsync().ConfigureAwait(false);
                }
            }

            Mesh?.DisposeCommandClients();
            Store.Dispose();
        }
    }

    private void ReadLocal(ReadOnlySpan<StoreKey> keys, Span<ReadOnlyMemory<byte>> values, Span<bool> found, MeshMembership? mesh)
    {
        for (var i = 0; i < keys.Length; i++)
        {
            if (mesh is null || mesh.Slots.OwnerOfKey(keys[i].Span) == mesh.Rank)
            {
                found[i] = Store.TryGet(keys[i].Span, out values[i]);
            }
        }
    }

    private static void Scatter(int[] indices, ReadOnlyMemory<byte>?[]? answer, Span<ReadOnlyMemory<byte>> values, Span<bool> found)
    {
        for (var j = 0; answer is not null && j < indices.Length; j++)
        {
            if (answer[j] is { } bytes)
            {
                values[indices[j]] = bytes;
                found[indices[j]] = true;
            }
        }
    }
}
