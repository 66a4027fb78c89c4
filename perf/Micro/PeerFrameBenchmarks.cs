using System.Text;
using BenchmarkDotNet.Attributes;
using Cache.Engine;
using Cache.Tests.Support;
using Cache.Transport.Peer;

namespace Perf.Micro;

/// <summary>
/// A batched peer GET of 16 keys with 1 KB values, in its three steps: the client encodes the request;
/// the node serves it (reads the frame, looks the 16 keys up, writes the reply: its own connection code
/// run without sockets by <see cref="PeerConnectionDriver"/>); the client decodes the reply into values.
/// </summary>
[MemoryDiagnoser]
public class PeerFrameBenchmarks : IDisposable
{
    private const int Batch = 16;
    private readonly PeerFrameBuilder _builder = new();
    private BlockStore _store = null!;
    private PeerConnectionDriver _driver = null!;
    private List<StoreKey> _keys = [];
    private byte[] _request = [];
    private byte[] _replyPayload = [];

    [GlobalSetup]
    public void Setup()
    {
        // No expiration sweep (no key has a TTL): an in-process run would count its timer thread's allocations.
        _store = new BlockStore(new BlockStoreOptions { Capacity = 64L << 20, ExpirationSweepInterval = TimeSpan.Zero });
        var value = new byte[1024];
        Random.Shared.NextBytes(value);
        _keys = [.. Enumerable.Range(0, Batch).Select(i => StoreKey.Copy(Encoding.ASCII.GetBytes($"imagenet-train:{i:D6}")))];
        foreach (var key in _keys)
        {
            _store.Set(key.Span, value);
        }

        _driver = new PeerConnectionDriver(_store);
        EncodeRequest16();
        _request = _builder.Finish().ToArray();
        _replyPayload = _driver.Serve(_request)[PeerFrame.HeaderLength..].ToArray();
    }

    [Benchmark]
    public int EncodeRequest16()
    {
        PeerGetCodec.WriteRequest(_builder.Start(PeerOp.Get, 7), _keys);
        return _builder.Finish().Length;
    }

    [Benchmark]
    public int NodeServes16() => _driver.Serve(_request).Length;

    [Benchmark]
    public int DecodeReply16() => PeerGetCodec.ReadReply(_replyPayload, Batch, compressed: false)!.Length;

    public void Dispose()
    {
        _driver?.Dispose();
        _store?.Dispose();
        GC.SuppressFinalize(this);
    }

    [GlobalCleanup]
    public void Cleanup() => Dispose();
}
