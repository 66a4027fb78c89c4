using Cache.Transport.Peer;
using System.Globalization;
using System.Net;

namespace Cache.Transport.Mesh;

/// <summary>
/// Forms a mesh at start-up without a member list: rank 0 hosts a <see cref="RendezvousBoard"/> on its
/// port, every rank (rank 0 too) reports its endpoint there and waits for the whole table; a rank that
/// never reports fails every start-up after the timeout, with an error that names it.
/// </summary>
internal static class Rendezvous
{
    /// <summary>
    /// Reports <paramref name="self"/> as <paramref name="rank"/> of <paramref name="worldSize"/> to the point at
    /// <paramref name="master"/> and returns every rank's endpoint in rank order. Throws <see cref="TimeoutException"/>
    /// naming the ranks that did not join within <paramref name="timeout"/>.
    /// </summary>
    public static async Task<IReadOnlyList<EndPoint>> GatherAsync(EndPoint master, int rank, int worldSize, IPEndPoint self, PeerClientOptions options, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(master);
        ArgumentNullException.ThrowIfNull(self);
        ArgumentNullException.ThrowIfNull(options);
        var clientOptions = new PeerClientOptions
        {
            ClusterId = options.ClusterId,
            Secret = options.Secret,
            RequestTimeout = TimeSpan.FromSeconds(2),
            ConnectTimeout = TimeSpan.FromSeconds(2),

            // Rank 0 may not listen yet: keep trying rather than backing off.
            BreakerThreshold = int.MaxValue,
            LoggerFactory = options.LoggerFactory,
        };
        await using var client = new PeerClient(master, clientOptions);
        var deadline = DateTime.UtcNow + timeout;
        int[] joined = [];
        var answered = false;
        while (DateTime.UtcNow < deadline)
        {
            var (table, now) = await client.JoinAsync(rank, worldSize, self.ToString());
            if (table is not null)
            {
                return table.Select(e => (EndPoint)IPEndPoint.Parse(e)).ToArray();
            }

            if (now.Length > 0)
            {
                answered = true;
                joined = now;
            }

            await Task.Delay(50);
        }

        if (!answered)
        {
            throw new TimeoutException($"Rendezvous failed: rank 0 at {master} did not answer within {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s.");
        }

        var missing = Enumerable.Range(0, worldSize).Except(joined).ToArray();
        throw new TimeoutException($"Rendezvous at {master} timed out after {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s: rank{(missing.Length == 1 ? "" : "s")} {string.Join(", ", missing)} of {worldSize} never joined.");
    }
}
