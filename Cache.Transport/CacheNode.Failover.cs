using Cache.Engine;
using Cache.Transport.Mesh;
using Cache.Transport.Peer;
using Microsoft.Extensions.Logging;

namespace Cache.Transport;

/// <summary>
/// Failover: a member unreachable past <see cref="PeerClientOptions.FailoverAfter"/> leaves the slot map, and
/// gets its slots back when it answers again. Every member decides alone, from what it sees, and computes the
/// same map from the same member list minus the same members (<see cref="SlotMap.Without"/>), so that members
/// agree without talking once they see the same members down. A member that reaches no majority of the mesh
/// (itself included) assumes that it is the one cut off: it keeps the plain map, so that it never takes over
/// the keyspace and fills with keys it will not own once the partition heals. After every change of the map,
/// the keys of slots this node no longer owns are dropped in the background (under <c>Retain</c> they would
/// otherwise hold capacity for good).
/// </summary>
public sealed partial class CacheNode
{
    private ITimer? _failoverTimer;
    private TimeSpan _failoverPeriod;
    private int _sweepScheduled;

    /// <summary>Starts watching the members (a timer on the options' clock, a few times per <see cref="PeerClientOptions.FailoverAfter"/>, at most 250 ms apart).</summary>
    private void StartFailover(PeerClientOptions options)
    {
        if (options.FailoverAfter == Timeout.InfiniteTimeSpan)
        {
            return;
        }

        var period = TimeSpan.FromMilliseconds(Math.Clamp(options.FailoverAfter.TotalMilliseconds / 4, 5, 250));
        _failoverPeriod = period;
        _failoverTimer = (options.TimeProvider ?? TimeProvider.System).CreateTimer(static state => ((CacheNode)state!).CheckMembers(), this, period, period);
    }

    /// <summary>Recomputes the slot map from the members' states; swaps it in and schedules a sweep when it changed.</summary>
    internal void CheckMembers()
    {
        var mesh = Mesh;
        if (mesh is null || IsDisposed)
        {
            return;
        }

        var failoverAfter = mesh.ClientOptions.FailoverAfter;
        var count = mesh.Endpoints.Count;
        var left = new bool[count];
        var reachable = 1;
        for (var rank = 0; rank < count; rank++)
        {
            if (mesh.Clients[rank] is not { } client)
            {
                continue;
            }

            if (!client.Breaker.IsOpen)
            {
                reachable++;

                // A heartbeat: a member this node sends nothing to would otherwise never be seen down, and the
                // members would disagree about the map. A ping costs one small frame; an open breaker has its own
                // probe; a member that answered within the period needs none.
                if (client.IsQuietFor(_failoverPeriod))
                {
                    _ = client.PingAsync();
                }
            }
            else if (client.Breaker.OpenFor >= failoverAfter)
            {
                left[rank] = true;
            }
        }

        if (reachable * 2 <= count)
        {
            // Cut off from the majority: this node is more likely the one partitioned away than everyone else is.
            Array.Clear(left);
        }

        var current = mesh.Left.Count == count ? mesh.Left : new bool[count];
        if (left.AsSpan().SequenceEqual([.. current]))
        {
            return;
        }

        var next = mesh with { Slots = SlotMap.Without(count, left), Left = left };
        if (Interlocked.CompareExchange(ref _mesh, next, mesh) == mesh)
        {
            var names = string.Join(',', Enumerable.Range(0, count).Where(r => left[r]));
            LogSlotMapChanged(_logger, names);
            ScheduleSweep();
        }
    }

    /// <summary>The last sweep of foreign keys started (tests await it).</summary>
    internal Task LastSweep { get; private set; } = Task.CompletedTask;

    private void ScheduleSweep()
    {
        if (Interlocked.Exchange(ref _sweepScheduled, 1) == 0)
        {
            LastSweep = Task.Run(SweepForeignKeys);
        }
    }

    /// <summary>Removes, a batch at a time, the keys of slots another member owns under the current map. A change of the map during the sweep schedules another.</summary>
    private void SweepForeignKeys()
    {
        Volatile.Write(ref _sweepScheduled, 0);
        var keys = new List<StoreKey>(1024);
        var cursor = 0;
        long removed = 0;
        do
        {
            if (Mesh is not { } mesh || IsDisposed)
            {
                return;
            }

            keys.Clear();
            cursor = Store.Scan(cursor, 1024, keys);
            foreach (var key in keys)
            {
                if (mesh.Slots.OwnerOfKey(key.Span) != mesh.Rank && Store.Remove(key.Span))
                {
                    removed++;
                }
            }
        }
        while (cursor != 0);

        LogForeignKeysDropped(_logger, removed);
    }

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "The slot map changed; members out of it: [{Left}]")]
    private static partial void LogSlotMapChanged(ILogger logger, string left);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Dropped {Removed} keys of slots this node no longer owns")]
    private static partial void LogForeignKeysDropped(ILogger logger, long removed);
}
