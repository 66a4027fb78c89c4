using Cache.Dataset;

namespace Cache.Tests.Dataset;

/// <summary>A source whose sample i is a known function of i; counts what it produced and on which threads.</summary>
internal sealed class IndexSource(int count, int sampleBytes = 32) : IDataset<byte[]>
{
    private int _produced;

    public int Produced => Volatile.Read(ref _produced);

    public System.Collections.Concurrent.ConcurrentDictionary<int, int> ProducerThreads { get; } = new();

    /// <summary>Called before each sample is produced (tests use it to fail or to block).</summary>
    public Action<int>? OnProduce { get; set; }

    public int Count => count;

    public byte[] this[int index]
    {
        get
        {
            OnProduce?.Invoke(index);
            Interlocked.Increment(ref _produced);
            ProducerThreads.TryAdd(Environment.CurrentManagedThreadId, 0);
            return Expected(index, sampleBytes);
        }
    }

    public static byte[] Expected(int index, int bytes = 32)
    {
        var data = new byte[bytes];
        for (var i = 0; i < bytes; i++)
        {
            data[i] = (byte)((index * 31) + (i * 7) + (index >> 8));
        }

        return data;
    }
}
