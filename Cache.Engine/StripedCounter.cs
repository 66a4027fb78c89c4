using System.Runtime.InteropServices;

namespace Cache.Engine;

/// <summary>
/// A counter that threads increment on separate cache lines, so that counting every hit does not
/// make the cores fight over one line. Thread-safe; <see cref="Read"/> sums the stripes and is exact
/// once writers are quiet.
/// </summary>
public sealed class StripedCounter
{
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct PaddedLong
    {
        [FieldOffset(64)]
        public long Value;
    }

    private readonly PaddedLong[] _cells = new PaddedLong[Math.Max(2, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Environment.ProcessorCount))];

    /// <summary>Adds one.</summary>
    public void Increment() => Add(1);

    /// <summary>Adds <paramref name="amount"/>.</summary>
    public void Add(long amount)
    {
        var cell = Environment.CurrentManagedThreadId & (_cells.Length - 1);
        Interlocked.Add(ref _cells[cell].Value, amount);
    }

    /// <summary>The sum of all stripes.</summary>
    public long Read()
    {
        long sum = 0;
        for (var i = 0; i < _cells.Length; i++)
        {
            sum += Volatile.Read(ref _cells[i].Value);
        }

        return sum;
    }

    /// <summary>Sets the counter to zero (not atomic with respect to concurrent adds).</summary>
    public void Reset()
    {
        for (var i = 0; i < _cells.Length; i++)
        {
            Interlocked.Exchange(ref _cells[i].Value, 0);
        }
    }
}
