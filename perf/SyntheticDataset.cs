using System.Diagnostics;
using Cache.Dataset;

namespace Perf;

/// <summary>
/// A dataset whose samples cost a fixed CPU time to produce (a busy loop standing for decoding and
/// augmentation) and carry an incompressible payload derived from the index.
/// </summary>
internal sealed class SyntheticDataset(int count, int payloadBytes, double costMs) : IDataset<byte[]>
{
    private readonly long _costTicks = (long)(costMs * Stopwatch.Frequency / 1000.0);

    public int Count => count;

    public byte[] this[int index]
    {
        get
        {
            var start = Stopwatch.GetTimestamp();
            var payload = Payload(index, payloadBytes);
            while (Stopwatch.GetTimestamp() - start < _costTicks)
            {
                Thread.SpinWait(20);
            }

            return payload;
        }
    }

    public static byte[] Payload(int index, int bytes)
    {
        var payload = new byte[bytes];
        new Random(index).NextBytes(payload);
        return payload;
    }
}
