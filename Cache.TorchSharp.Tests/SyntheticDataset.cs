using TorchSharp;
using static TorchSharp.torch;

namespace Cache.TorchSharp.Tests;

/// <summary>
/// A TorchSharp dataset whose sample i is a deterministic function of i ("image" float32 [3, 8, 8],
/// "label" and "index" int64 scalars); counts its calls. Fresh tensors on every call, as TorchSharp requires.
/// </summary>
internal sealed class SyntheticDataset(long count) : utils.data.Dataset
{
    private long _calls;
    private int _disposed;

    public override long Count => count;

    public long Calls => Interlocked.Read(ref _calls);

    public bool Disposed => Volatile.Read(ref _disposed) != 0;

    public override Dictionary<string, Tensor> GetTensor(long index)
    {
        Interlocked.Increment(ref _calls);
        return Make(index);
    }

    public static Dictionary<string, Tensor> Make(long index) => new()
    {
        ["image"] = arange(3 * 8 * 8, dtype: ScalarType.Float32).reshape(3, 8, 8).mul_(0.001f).add_(index),
        ["label"] = tensor(index % 10),
        ["index"] = tensor(index),
    };

    protected override void Dispose(bool disposing)
    {
        Volatile.Write(ref _disposed, 1);
        base.Dispose(disposing);
    }
}
