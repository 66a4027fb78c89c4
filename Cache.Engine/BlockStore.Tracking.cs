namespace Cache.Engine;

/// <summary>Counting keys by prefix: scanned on demand, or tracked as keys come and go (a dataset's prefix).</summary>
public sealed partial class BlockStore
{
    private readonly Lock _trackGate = new();
    private TrackedPrefix[] _tracked = [];

    /// <summary>Counts the live keys that start with <paramref name="prefix"/>. O(entries) unless the prefix is tracked (<see cref="TrackPrefix"/>); exact when no writer runs meanwhile.</summary>
    public long CountKeys(ReadOnlySpan<byte> prefix)
    {
        foreach (var tracked in Volatile.Read(ref _tracked))
        {
            if (prefix.SequenceEqual(tracked.Prefix))
            {
                // The stripes are summed without a lock: while a key comes and goes the sum can be one off.
                return Math.Max(0, tracked.Count.Read());
            }
        }

        long count = 0;
        // One segment at a time under its stripe: writers of other keys are held off only briefly.
        for (var segment = 0; segment < SampleTable.SegmentCount; segment++)
        {
            if (_samples.LiveIn(segment) == 0)
            {
                continue;
            }

            lock (StripeOf(segment))
            {
                count += _samples.CountPrefixedLocked(segment, prefix);
            }
        }

        var now = NowUnixMs;
        var chunk = new List<StoreEntry>(4096);
        var cursor = 0;
        do
        {
            chunk.Clear();
            cursor = _ring.Scan(cursor, 4096, chunk);
            foreach (var entry in chunk)
            {
                if (!entry.IsExpired(now) && entry.KeySpan.StartsWith(prefix))
                {
                    count++;
                }
            }
        }
        while (cursor != 0);
        return count;
    }

    /// <summary>
    /// Keeps an exact count of the keys that begin with <paramref name="prefix"/> from now on, so that
    /// <see cref="CountKeys"/> of that prefix answers at once instead of scanning every key (a dataset's
    /// prefix: INFO and NumKeys ask for it, and on a store of millions of keys a scan holds the node's one
    /// event thread for a long while). The keys already there are counted once, while every writer is held
    /// off (on a store of millions of keys, for a fraction of a second: register datasets early). A tracked
    /// count is exact whenever writes are quiet; while keys come and go it may be off by those in flight.
    /// It includes keys that have expired but have not been reclaimed yet (by a lookup, or by the sweep
    /// every <see cref="BlockStoreOptions.ExpirationSweepInterval"/>). Up to 32 prefixes
    /// are tracked; past that, counting them scans as before. Idempotent; thread-safe, but not from inside a
    /// callback the store runs under a key's lock (<see cref="InvalidOperationException"/>: taking every
    /// stripe from there could deadlock against a multi-key writer).
    /// </summary>
    public void TrackPrefix(ReadOnlySpan<byte> prefix)
    {
        const int MaxTracked = 32;
        foreach (var stripe in _stripes)
        {
            if (stripe.IsHeldByCurrentThread)
            {
                ThrowHelper.ThrowInsideStoreCallback(nameof(TrackPrefix));
            }
        }

        lock (_trackGate)
        {
            var current = _tracked;
            foreach (var tracked in current)
            {
                if (prefix.SequenceEqual(tracked.Prefix))
                {
                    return;
                }
            }

            if (current.Length >= MaxTracked)
            {
                return;
            }

            // Every stripe, in ascending order as multi-key writers take them: no insert or removal runs
            // while the keys already stored are counted, so none is counted twice or missed.
            foreach (var stripe in _stripes)
            {
                stripe.Enter();
            }

            try
            {
                var counter = new StripedCounter();
                counter.Add(_ring.CountPrefixed(prefix));
                for (var segment = 0; segment < SampleTable.SegmentCount; segment++)
                {
                    counter.Add(_samples.CountPrefixedLocked(segment, prefix));
                }

                Volatile.Write(ref _tracked, [.. current, new TrackedPrefix(prefix.ToArray(), counter)]);
            }
            finally
            {
                foreach (var stripe in _stripes)
                {
                    stripe.Exit();
                }
            }
        }
    }

    /// <summary>Counts a key in or out of the tracked prefixes it begins with (see <see cref="TrackPrefix"/>). Caller holds the key's stripe lock.</summary>
    private void CountTracked(ReadOnlySpan<byte> key, long delta)
    {
        foreach (var tracked in Volatile.Read(ref _tracked))
        {
            if (key.StartsWith(tracked.Prefix))
            {
                tracked.Count.Add(delta);
            }
        }
    }

    /// <summary>A prefix whose keys are counted as they come and go (<see cref="TrackPrefix"/>).</summary>
    private sealed record TrackedPrefix(byte[] Prefix, StripedCounter Count);
}
