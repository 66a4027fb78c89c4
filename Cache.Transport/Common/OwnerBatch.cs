using Cache.Engine;

namespace Cache.Transport.Common;

/// <summary>The positions, in a request, of the keys one owner holds.</summary>
/// <param name="Owner">The owner: a mesh rank, a Redis shard, a hash slot.</param>
/// <param name="Indices">Positions in the request, ascending.</param>
internal readonly record struct OwnerGroup(int Owner, int[] Indices);

/// <summary>
/// Owner batching, the one way every batched path talks to several owners (the mesh, the Redis backend, RESP's
/// split MGET/MSET/DEL/EXISTS): group a request's keys by owner, and select each owner's part of the request;
/// the caller sends one request per group, all in flight together, and writes each answer back at its group's
/// positions. Thread-safe (no state).
/// </summary>
internal static class OwnerBatch
{
    /// <summary>Groups positions 0..n-1 by <paramref name="owners"/>[i], owners in order of first appearance.</summary>
    public static OwnerGroup[] Group(ReadOnlySpan<int> owners)
    {
        // Requests touch a handful of owners: a linear search beats a dictionary and allocates less.
        Span<int> seen = owners.Length <= 64 ? stackalloc int[owners.Length] : new int[owners.Length];
        Span<int> counts = owners.Length <= 64 ? stackalloc int[owners.Length] : new int[owners.Length];
        var distinct = 0;
        foreach (var owner in owners)
        {
            var at = seen[..distinct].IndexOf(owner);
            if (at < 0)
            {
                at = distinct++;
                seen[at] = owner;
                counts[at] = 0;
            }

            counts[at]++;
        }

        var groups = new OwnerGroup[distinct];
        for (var g = 0; g < distinct; g++)
        {
            groups[g] = new OwnerGroup(seen[g], new int[counts[g]]);
            counts[g] = 0;
        }

        for (var i = 0; i < owners.Length; i++)
        {
            var g = seen[..distinct].IndexOf(owners[i]);
            groups[g].Indices[counts[g]++] = i;
        }

        return groups;
    }

    /// <summary>Groups <paramref name="keys"/> by the member of <paramref name="slots"/> that owns each.</summary>
    public static OwnerGroup[] Group(ReadOnlySpan<StoreKey> keys, SlotMap slots)
    {
        var owners = keys.Length <= 256 ? stackalloc int[keys.Length] : new int[keys.Length];
        for (var i = 0; i < keys.Length; i++)
        {
            owners[i] = slots.OwnerOfKey(keys[i].Span);
        }

        return Group(owners);
    }

    /// <summary>The items at a group's positions, in order (the request to send to that owner).</summary>
    public static T[] Select<T>(ReadOnlySpan<T> items, OwnerGroup group)
    {
        var selected = new T[group.Indices.Length];
        for (var j = 0; j < selected.Length; j++)
        {
            selected[j] = items[group.Indices[j]];
        }

        return selected;
    }
}
