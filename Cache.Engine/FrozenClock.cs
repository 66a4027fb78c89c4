#pragma warning disable CS0618 // ISystemClock is the only clock MemoryCacheOptions accepts.
using Microsoft.Extensions.Internal;

namespace Cache.Engine;

/// <summary>A clock that always reads the Unix epoch, for an index whose entries never expire by time.</summary>
internal sealed class FrozenClock : ISystemClock
{
    public static readonly FrozenClock Instance = new();

    public DateTimeOffset UtcNow => DateTimeOffset.UnixEpoch;
}
