using System.Collections.Concurrent;
using Cache.Engine;
using Cache.Transport;

namespace Cache.Tests.Dataset;

/// <summary>
/// An in-memory backend that records which thread made each call, counts batched reads, can hold
/// writes at a gate, and signals every answered write, so tests wait on events rather than on time.
/// </summary>
internal sealed class RecordingBackend : ICacheBackend, IDisposable
{
    private readonly BlockStore _store = new(new BlockStoreOptions { Capacity = 64 << 20, Name = "recording" });
    private readonly ManualResetEventSlim _writeGate = new(initialState: true);
    private readonly SemaphoreSlim _writesEntered = new(0);
    private readonly SemaphoreSlim _writesAnswered = new(0);
    private int _getManyCalls;
    private int _tryGetCalls;
    private int _syncWrites;
    private int _asyncWrites;

    public string Description => "recording backend";

    /// <summary>Managed thread ids that called SetMany.</summary>
    public ConcurrentBag<int> WriterThreads { get; } = [];

    /// <summary>The size of each SetMany batch, in call order.</summary>
    public ConcurrentQueue<int> WriteBatches { get; } = new();

    public int GetManyCalls => Volatile.Read(ref _getManyCalls);

    public BlockStore Store => _store;

    /// <summary>Holds every write until <see cref="OpenWrites"/>.</summary>
    public void HoldWrites() => _writeGate.Reset();

    public void OpenWrites() => _writeGate.Set();

    /// <summary>Waits until a write has entered the backend (and is possibly held at the gate).</summary>
    public void WaitForWriteEntered() => Assert.True(_writesEntered.Wait(TimeSpan.FromSeconds(30)), "no write reached the backend");

    /// <summary>Waits until a write has been answered.</summary>
    public void WaitForWriteAnswered() => Assert.True(_writesAnswered.Wait(TimeSpan.FromSeconds(30)), "no write was answered");

    public int TryGetCalls => Volatile.Read(ref _tryGetCalls);

    public bool TryGet(ReadOnlySpan<byte> key, out ReadOnlyMemory<byte> value)
    {
        Interlocked.Increment(ref _tryGetCalls);
        return _store.TryGet(key, out value);
    }

    public void GetMany(ReadOnlySpan<StoreKey> keys, Span<ReadOnlyMemory<byte>> values, Span<bool> found)
    {
        Interlocked.Increment(ref _getManyCalls);
        for (var i = 0; i < keys.Length; i++)
        {
            found[i] = _store.TryGet(keys[i].Span, out values[i]);
        }
    }

    public ValueTask GetManyAsync(ReadOnlyMemory<StoreKey> keys, Memory<ReadOnlyMemory<byte>> values, Memory<bool> found, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        GetMany(keys.Span, values.Span, found.Span);
        return ValueTask.CompletedTask;
    }

    public ValueTask SetManyAsync(ReadOnlyMemory<KeyValuePair<StoreKey, byte[]>> entries, Memory<SetResult> results, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _asyncWrites);
        Write(entries.Span, results.Span);
        return ValueTask.CompletedTask;
    }

    /// <summary>Calls of the synchronous <see cref="SetMany"/> (the write-behind uses only <see cref="SetManyAsync"/>).</summary>
    public int SyncWrites => Volatile.Read(ref _syncWrites);

    /// <summary>Calls of <see cref="SetManyAsync"/>.</summary>
    public int AsyncWrites => Volatile.Read(ref _asyncWrites);

    public void SetMany(ReadOnlySpan<KeyValuePair<StoreKey, byte[]>> entries, Span<SetResult> results)
    {
        Interlocked.Increment(ref _syncWrites);
        Write(entries, results);
    }

    private void Write(ReadOnlySpan<KeyValuePair<StoreKey, byte[]>> entries, Span<SetResult> results)
    {
        WriterThreads.Add(Environment.CurrentManagedThreadId);
        _writesEntered.Release();
        _writeGate.Wait();
        for (var i = 0; i < entries.Length; i++)
        {
            results[i] = _store.SetOwned(entries[i].Key, entries[i].Value);
        }

        WriteBatches.Enqueue(entries.Length);
        _writesAnswered.Release();
    }

    public long CountKeys(ReadOnlySpan<byte> prefix) => _store.CountKeys(prefix);

    public long RemoveKeys(ReadOnlySpan<byte> prefix) => _store.RemoveKeys(prefix);

    public void Dispose()
    {
        _writeGate.Set();
        _store.Dispose();
    }
}
