using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using Cache.Engine;
using Cache.Transport.Resp;

namespace Perf.Micro;

/// <summary>
/// The store's read and write paths, single thread, over 8,192 keys of 1 KB (about 12 MB with the
/// per-entry overhead: past the CPU's L2, so lookups are memory-bound as on a real node), keys taken
/// in turn. Reads and writes use separate keys: a value once handed out by <see cref="BlockStore.TryGet"/>
/// is never overwritten in place, so a GET on a key would turn its later SETs into replacements.
/// </summary>
[MemoryDiagnoser]
public class BlockStoreBenchmarks : IDisposable
{
    private const int Keys = 8192;
    private const int ValueLength = 1024;
    private readonly ArrayBufferWriter<byte> _output = new(4096);
    private BlockStore _store = null!;
    private byte[][] _readKeys = [];
    private byte[][] _writeKeys = [];
    private byte[] _value = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        // No expiration sweep (no key has a TTL): an in-process run would count its timer thread's allocations.
        _store = new BlockStore(new BlockStoreOptions { Capacity = 1L << 30, ExpirationSweepInterval = TimeSpan.Zero });
        _value = new byte[ValueLength];
        Random.Shared.NextBytes(_value);
        _readKeys = [.. Enumerable.Range(0, Keys).Select(i => Encoding.ASCII.GetBytes($"read:{i:D6}"))];
        _writeKeys = [.. Enumerable.Range(0, Keys).Select(i => Encoding.ASCII.GetBytes($"write:{i:D6}"))];
        foreach (var key in _readKeys.Concat(_writeKeys))
        {
            _store.Set(key, _value);
        }
    }

    private int Next() => _next = (_next + 1) & (Keys - 1);

    /// <summary>A hit, handing out the stored value as memory (no copy).</summary>
    [Benchmark]
    public int Get() => _store.TryGet(_readKeys[Next()], out var value) ? value.Length : -1;

    /// <summary>A hit, copying the value out as a RESP bulk string (what a RESP GET does).</summary>
    [Benchmark]
    public int CopyOut()
    {
        _output.ResetWrittenCount();
        _store.TryWriteValue<RespBulkFormat>(_readKeys[Next()], _output);
        return _output.WrittenCount;
    }

    /// <summary>A SET of a present key with a value of the same length: overwritten in place.</summary>
    [Benchmark]
    public SetResult SetSameSize() => _store.Set(_writeKeys[Next()], _value);

    public void Dispose()
    {
        _store?.Dispose();
        GC.SuppressFinalize(this);
    }

    [GlobalCleanup]
    public void Cleanup() => Dispose();
}
