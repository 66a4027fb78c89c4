using System.Globalization;
using System.Net;
using Cache.Engine;

namespace Cache.Node;

/// <summary>The command line of <c>cache-node</c>, parsed and checked; a wrong value throws <see cref="ArgumentException"/> naming the flag.</summary>
internal sealed record NodeArguments(IPAddress Bind, int Port, long Capacity, AdmissionPolicy Policy, string? RequirePass, bool ProtectedMode, int MaxClients,
    IReadOnlyList<EndPoint> Peers, int Rank, string? Secret, string ClusterId, int SendLowWatermark)
{
    /// <summary>How long a member may be unreachable before the others take its slots (<c>--failover-after</c>; <see cref="Timeout.InfiniteTimeSpan"/>: never).</summary>
    public TimeSpan FailoverAfter { get; init; } = new Cache.Transport.Peer.PeerClientOptions().FailoverAfter;

    /// <summary>The silence after which a peer request fails (<c>--request-timeout</c>).</summary>
    public TimeSpan RequestTimeout { get; init; } = new Cache.Transport.Peer.PeerClientOptions().RequestTimeout;

    /// <summary>Bytes of store memory committed at start (<c>--preallocate</c>; 0: none).</summary>
    public long Preallocate { get; init; }

    /// <summary>The least level logged to standard error (<c>--log-level</c>).</summary>
    public Microsoft.Extensions.Logging.LogLevel LogLevel { get; init; } = Microsoft.Extensions.Logging.LogLevel.Information;

    public const string Usage =
        "usage: cache-node [--port 7379] [--bind 127.0.0.1] [--capacity 1gb] [--policy retain|lru|random]\n" +
        "                  [--preallocate 512mb|all (store memory committed and touched at start)]\n" +
        "                  [--requirepass PASSWORD] [--protected-mode yes|no] [--maxclients 10000]\n" +
        "                  [--send-lowat 16kb (unsent bytes left to the kernel per connection; 0: the kernel's)]\n" +
        "                  [--peers host:port,host:port,... --rank N [--secret S] [--cluster-id ID]\n" +
        "                   [--failover-after 10s|500ms|never] [--request-timeout 50ms]]\n" +
        "                  [--log-level debug|information|warning|error]";

    public static NodeArguments Parse(IReadOnlyList<string> args)
    {
        var bind = IPAddress.Loopback;
        var port = 7379;
        var capacity = 1L << 30;
        var policy = AdmissionPolicy.Retain;
        string? password = null;
        var protectedMode = true;
        var maxClients = 10_000;
        var peers = new List<EndPoint>();
        var rank = -1;
        string? secret = null;
        var clusterId = "cache";
        var portGiven = false;
        var sendLowWatermark = Cache.Transport.Server.PeerServerOptions.DefaultSendLowWatermark;
        var defaults = new Cache.Transport.Peer.PeerClientOptions();
        var failoverAfter = defaults.FailoverAfter;
        var requestTimeout = defaults.RequestTimeout;
        var logLevel = Microsoft.Extensions.Logging.LogLevel.Information;
        string? preallocate = null;
        for (var i = 0; i < args.Count; i++)
        {
            var flag = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{flag} needs a value.", flag);
            switch (flag)
            {
                case "--port":
                    port = ParseInt(Value(), flag, 0, 65535);
                    portGiven = true;
                    break;
                case "--peers":
                    foreach (var peer in Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        peers.Add(IPEndPoint.TryParse(peer, out var endPoint) && endPoint.Port > 0
                            ? endPoint
                            : throw new ArgumentException($"--peers entry '{peer}' is not ip:port.", flag));
                    }

                    break;
                case "--rank":
                    rank = ParseInt(Value(), flag, 0, 16383);
                    break;
                case "--secret":
                    secret = Value();
                    break;
                case "--cluster-id":
                    clusterId = Value();
                    break;
                case "--bind":
                    var text = Value();
                    bind = IPAddress.TryParse(text, out var address) ? address : throw new ArgumentException($"--bind '{text}' is not an IP address.", flag);
                    break;
                case "--capacity":
                    capacity = ParseSize(Value(), flag);
                    break;
                case "--preallocate":
                    preallocate = Value();
                    break;
                case "--policy":
                    var name = Value();
                    policy = name.ToLowerInvariant() switch
                    {
                        "retain" or "noeviction" => AdmissionPolicy.Retain,
                        "lru" or "allkeys-lru" => AdmissionPolicy.Lru,
                        "random" or "allkeys-random" => AdmissionPolicy.Random,
                        _ => throw new ArgumentException($"--policy '{name}' is not retain, lru or random.", flag),
                    };
                    break;
                case "--requirepass":
                    password = Value();
                    break;
                case "--protected-mode":
                    var mode = Value();
                    protectedMode = mode switch
                    {
                        "yes" => true,
                        "no" => false,
                        _ => throw new ArgumentException($"--protected-mode '{mode}' is not yes or no.", flag),
                    };
                    break;
                case "--maxclients":
                    maxClients = ParseInt(Value(), flag, 1, 1_000_000);
                    break;
                case "--send-lowat":
                    var lowat = Value();
                    var lowatBytes = lowat == "0" ? 0 : ParseSize(lowat, flag);
                    sendLowWatermark = lowatBytes <= int.MaxValue ? (int)lowatBytes : throw new ArgumentException($"--send-lowat '{lowat}' must be from 0 to 2gb.", flag);
                    break;
                case "--failover-after":
                    var after = Value();
                    failoverAfter = after == "never" ? Timeout.InfiniteTimeSpan : ParseDuration(after, flag);
                    break;
                case "--request-timeout":
                    requestTimeout = ParseDuration(Value(), flag);
                    break;
                case "--log-level":
                    var level = Value();
                    logLevel = level.ToLowerInvariant() switch
                    {
                        "debug" => Microsoft.Extensions.Logging.LogLevel.Debug,
                        "information" or "info" => Microsoft.Extensions.Logging.LogLevel.Information,
                        "warning" => Microsoft.Extensions.Logging.LogLevel.Warning,
                        "error" => Microsoft.Extensions.Logging.LogLevel.Error,
                        _ => throw new ArgumentException($"--log-level '{level}' is not debug, information, warning or error.", flag),
                    };
                    break;
                default:
                    throw new ArgumentException($"Unknown option '{flag}'.", flag);
            }
        }

        if (peers.Count > 0)
        {
            if (rank < 0 || rank >= peers.Count)
            {
                throw new ArgumentException($"--rank must be from 0 to {peers.Count - 1} with {peers.Count} --peers.", "--rank");
            }

            // The node listens where the others expect it: its own entry in the list.
            var own = (IPEndPoint)peers[rank];
            if (portGiven && port != own.Port)
            {
                throw new ArgumentException($"--port {port} differs from this rank's entry in --peers ({own}).", "--port");
            }

            port = own.Port;
        }
        else if (rank >= 0)
        {
            throw new ArgumentException("--rank needs --peers.", "--rank");
        }

        // After the loop: "all" means the capacity, whichever order the flags came in.
        var preallocateBytes = preallocate switch
        {
            null or "0" => 0,
            "all" => capacity,
            _ => ParseSize(preallocate, "--preallocate"),
        };
        if (preallocateBytes > capacity)
        {
            throw new ArgumentException($"--preallocate {preallocate} is more than --capacity ({capacity} bytes).", "--preallocate");
        }

        return new NodeArguments(bind, port, capacity, policy, password, protectedMode, maxClients, peers, Math.Max(rank, 0), secret, clusterId, sendLowWatermark)
        {
            Preallocate = preallocateBytes,
            FailoverAfter = failoverAfter,
            RequestTimeout = requestTimeout,
            LogLevel = logLevel,
        };
    }

    /// <summary>Parses sizes as Redis's config does: 1000, 1k(b), 1m(b), 1g(b), case-insensitive; k = 1024.</summary>
    public static long ParseSize(string text, string flag)
    {
        var lower = text.Trim().ToLowerInvariant();
        long unit = 1;
        foreach (var (suffix, factor) in new[] { ("gb", 1L << 30), ("mb", 1L << 20), ("kb", 1L << 10), ("g", 1L << 30), ("m", 1L << 20), ("k", 1L << 10), ("b", 1L) })
        {
            if (lower.EndsWith(suffix, StringComparison.Ordinal))
            {
                unit = factor;
                lower = lower[..^suffix.Length];
                break;
            }
        }

        if (!long.TryParse(lower, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number <= 0 || number > long.MaxValue / unit)
        {
            throw new ArgumentException($"{flag} '{text}' is not a positive size such as 512mb or 4gb.", flag);
        }

        return number * unit;
    }

    /// <summary>Parses a positive duration: 250ms, 10s, 2m (a bare number is milliseconds).</summary>
    public static TimeSpan ParseDuration(string text, string flag)
    {
        var lower = text.Trim().ToLowerInvariant();
        foreach (var (suffix, unit) in new[] { ("ms", 1.0), ("s", 1000.0), ("m", 60_000.0), ("", 1.0) })
        {
            if (lower.EndsWith(suffix, StringComparison.Ordinal)
                && double.TryParse(lower[..^suffix.Length], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number)
                && number > 0 && number * unit <= int.MaxValue)
            {
                return TimeSpan.FromMilliseconds(number * unit);
            }
        }

        throw new ArgumentException($"{flag} '{text}' is not a positive duration such as 250ms, 10s or 2m.", flag);
    }

    private static int ParseInt(string text, string flag, int min, int max) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new ArgumentException($"{flag} '{text}' must be an integer from {min} to {max}.", flag);
}
