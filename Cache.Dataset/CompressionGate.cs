namespace Cache.Dataset;

/// <summary>
/// Whether the next sample of a dataset is worth an LZ4 attempt, from how the last attempts went. The samples of one
/// dataset are alike: decoded JPEGs compress, float tensors and already-compressed bytes do not. Once
/// <see cref="GiveUpAfter"/> samples in a row did not compress, only one sample in <see cref="RetryEvery"/> is tried
/// (so that a dataset whose samples start to compress is noticed), and the first one that compresses turns every
/// attempt back on. An attempt on an incompressible 16 KB sample cost about 6 us, as much as the rest of its write
/// path, on every sample of every first epoch. Thread-safe: the counters are shared by the producers without a lock,
/// and a race only moves an attempt by a sample or two.
/// </summary>
internal sealed class CompressionGate
{
    /// <summary>Incompressible samples in a row after which attempts become rare.</summary>
    public const int GiveUpAfter = 16;

    /// <summary>While attempts are rare, one sample in this many is tried.</summary>
    public const int RetryEvery = 64;

    private int _failedInRow;
    private int _skipped;

    /// <summary>True when the next sample should be tried.</summary>
    public bool ShouldTry() =>
        Volatile.Read(ref _failedInRow) < GiveUpAfter || Interlocked.Increment(ref _skipped) % RetryEvery == 0;

    /// <summary>Records an attempt's outcome.</summary>
    public void Record(bool compressed)
    {
        if (compressed)
        {
            if (Volatile.Read(ref _failedInRow) != 0)
            {
                Volatile.Write(ref _failedInRow, 0);
            }
        }
        else if (Volatile.Read(ref _failedInRow) < GiveUpAfter)
        {
            Interlocked.Increment(ref _failedInRow);
        }
    }
}
