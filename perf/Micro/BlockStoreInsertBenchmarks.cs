using System.Text;
using BenchmarkDotNet.Attributes;
using Cache.Engine;

namespace Perf.Micro;

/// <summary>
/// A SET of a key the store does not hold (1 KB value): the stored bytes, the index's objects and the
/// admission check. Each iteration inserts <see cref="Inserts"/> fresh keys into an emptied store, so the
/// store never fills (an insert into a full <see cref="AdmissionPolicy.Retain"/> store would measure a rejection).
/// </summary>
[MemoryDiagnoser]
[InvocationCount(Inserts)]
public class BlockStoreInsertBenchmarks : IDisposable
{
    private const int Inserts = 32768;
    private BlockStore _store = null!;
    private byte[][] _keys = [];
    private byte[] _value = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        // No expiration sweep (no key has a TTL): an in-process run would count its timer thread's allocations.
        _store = new BlockStore(new BlockStoreOptions { Capacity = 1L << 30, ExpirationSweepInterval = TimeSpan.Zero });
        _value = new byte[1024];
        Random.Shared.NextBytes(_value);
        _keys = [.. Enumerable.Range(0, Inserts).Select(i => Encoding.ASCII.GetBytes($"fresh:{i:D6}"))];
    }

    [IterationSetup]
    public void Empty()
    {
        _store.Clear();
        _next = 0;
    }

    [Benchmark]
    public SetResult SetFreshKey() => _store.Set(_keys[_next++], _value);

    public void Dispose()
    {
        _store?.Dispose();
        GC.SuppressFinalize(this);
    }

    [GlobalCleanup]
    public void Cleanup() => Dispose();
}
