using System.Globalization;
using Cache.Engine;

using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>
/// CONFIG GET's settings, with Redis's names, and CONFIG SET for those that can change while the node runs
/// (maxmemory, maxmemory-policy, slowlog-log-slower-than, slowlog-max-len, latency-monitor-threshold). Any other setting keeps the value
/// the node started with: set to that same value it is accepted (clients that restore settings they read), to
/// another it gets Redis's "can't set immutable config". Stateless; thread-safe.
/// </summary>
internal static class ConfigSettings
{
    /// <summary>The budget <c>maxmemory 0</c> (Redis's "no limit") sets.</summary>
    public const long Unbounded = long.MaxValue;

    /// <summary>Settings CONFIG GET reports only when asked for by their exact name, as Redis's hidden ones.</summary>
    private static readonly KeyValuePair<string, string>[] Hidden = [new("key-load-delay", "0"), new("rdb-key-save-delay", "0")];

    /// <summary>Every setting and its value now, in a stable order.</summary>
    public static List<KeyValuePair<string, string>> Values(ServerContext server)
    {
        var c = CultureInfo.InvariantCulture;
        var o = server.Options;
        var store = server.Store;
        return
        [
            new("maxmemory", (store.Capacity == Unbounded ? 0 : store.Capacity).ToString(c)),
            new("maxmemory-clients", "0"),
            new("maxmemory-policy", InfoReport.PolicyName(store.Policy)),
            new("maxmemory-samples", "5"),
            new("maxclients", o.MaxClients.ToString(c)),
            new("port", server.Port.ToString(c)),
            new("bind", o.BindAddress.ToString()),
            new("protected-mode", o.ProtectedMode ? "yes" : "no"),
            new("requirepass", ""),
            new("proto-max-bulk-len", o.MaxBulkLength.ToString(c)),
            new("client-query-buffer-limit", o.MaxQueryBuffer.ToString(c)),
            new("client-output-buffer-limit", $"normal {o.MaxOutputBuffer.ToString(c)} 0 0 slave 0 0 0 pubsub 0 0 0"),
            new("save", ""),
            new("appendonly", "no"),
            new("databases", "1"),
            new("timeout", "0"),
            new("tcp-keepalive", "0"),
            new("io-threads", "1"),
            new("hz", "10"),
            new("replicaof", ""),
            new("slaveof", ""),
            new("replica-read-only", "yes"),
            new("slave-read-only", "yes"),
            new("cluster-enabled", server.Host.Router is null ? "no" : "yes"),
            new("slowlog-log-slower-than", server.SlowLog.ThresholdMicros.ToString(c)),
            new("slowlog-max-len", server.SlowLog.MaxLength.ToString(c)),
            new("latency-monitor-threshold", server.Latency.ThresholdMs.ToString(c)),
            new("latency-tracking", "yes"),
            new("latency-tracking-info-percentiles", "50 99 99.9"),
            new("lazyfree-lazy-user-flush", "no"),
            new("daemonize", "no"),
        ];
    }

    /// <summary>The settings whose names match any of the patterns from argument <paramref name="firstPattern"/> on (globs, case-insensitive).</summary>
    public static List<KeyValuePair<string, string>> Matching(ServerContext server, in CommandArgs a, int firstPattern)
    {
        var matched = new List<KeyValuePair<string, string>>();
        foreach (var (name, value) in Values(server).Concat(Hidden))
        {
            var hidden = Hidden.Any(h => h.Key == name);
            for (var i = firstPattern; i < a.Count; i++)
            {
                var match = hidden
                    ? System.Text.Encoding.ASCII.GetString(a[i]).Equals(name, StringComparison.OrdinalIgnoreCase)
                    : GlobPattern.IsMatch(a[i], System.Text.Encoding.ASCII.GetBytes(name), ignoreCase: true);
                if (match)
                {
                    matched.Add(new(name, value));
                    break;
                }
            }
        }

        return matched;
    }

    /// <summary>Applies CONFIG SET's name/value pairs, all or none. Returns null, or the error to reply.</summary>
    public static string? TrySet(ServerContext server, IReadOnlyList<(string Name, string Value)> pairs)
    {
        var current = Values(server).ToDictionary(p => p.Key, p => p.Value, StringComparer.OrdinalIgnoreCase);
        var changes = new List<Action>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (rawName, value) in pairs)
        {
            var name = rawName.ToLowerInvariant();
            if (!seen.Add(name))
            {
                return Failed(rawName, "duplicate parameter");
            }

            if (!current.TryGetValue(name, out var now))
            {
                return $"ERR Unknown option or number of arguments for CONFIG SET - '{rawName}'";
            }

            switch (name)
            {
                case "maxmemory":
                    if (!TryParseMemory(value, out var bytes))
                    {
                        return Failed(name, "argument must be a memory value");
                    }

                    changes.Add(() => server.Store.Resize(bytes == 0 ? Unbounded : bytes));
                    break;
                case "maxmemory-policy":
                    AdmissionPolicy? policy = value.ToLowerInvariant() switch
                    {
                        "noeviction" => AdmissionPolicy.Retain,
                        "allkeys-lru" => AdmissionPolicy.Lru,
                        "allkeys-random" => AdmissionPolicy.Random,
                        _ => null,
                    };
                    if (policy is not { } chosen)
                    {
                        return Failed(name, "argument(s) must be one of the following: noeviction, allkeys-lru, allkeys-random (the policies this store has)");
                    }

                    changes.Add(() => server.Store.ChangePolicy(chosen));
                    break;
                case "slowlog-log-slower-than":
                    if (!long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var micros))
                    {
                        return Failed(name, "argument couldn't be parsed into an integer");
                    }

                    changes.Add(() => server.SlowLog.ThresholdMicros = micros);
                    break;
                case "latency-monitor-threshold":
                    if (!long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var ms))
                    {
                        return Failed(name, "argument couldn't be parsed into an integer");
                    }

                    if (ms < 0)
                    {
                        return Failed(name, "argument must be between 0 and 9223372036854775807 inclusive");
                    }

                    changes.Add(() => server.Latency.ThresholdMs = ms);
                    break;
                case "slowlog-max-len":
                    if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var length))
                    {
                        return Failed(name, "argument couldn't be parsed into an integer");
                    }

                    changes.Add(() => server.SlowLog.MaxLength = length);
                    break;
                case "maxmemory-clients" when value.EndsWith('%'):
                    // Checked as Redis checks it before anything is applied; a valid value still meets the immutable rule below.
                    if (!long.TryParse(value.AsSpan(0, value.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var percent))
                    {
                        return Failed(name, "argument must be a memory or percent value");
                    }

                    if (percent > 100)
                    {
                        return Failed(name, "percentage argument must be less or equal to 100");
                    }

                    goto default;
                default:
                    if (!string.Equals(now, value, StringComparison.OrdinalIgnoreCase))
                    {
                        return Failed(rawName, "can't set immutable config");
                    }

                    break;
            }
        }

        foreach (var change in changes)
        {
            change();
        }

        return null;
    }

    private static string Failed(string name, string why) => $"ERR CONFIG SET failed (possibly related to argument '{name}') - {why}";

    /// <summary>A memory value as Redis reads one: bytes, or a number with k, kb, m, mb, g or gb (k = 1000, kb = 1024).</summary>
    internal static bool TryParseMemory(string text, out long bytes)
    {
        bytes = 0;
        var lower = text.ToLowerInvariant();
        (string Suffix, long Unit)[] units = [("gb", 1L << 30), ("mb", 1L << 20), ("kb", 1L << 10), ("g", 1_000_000_000), ("m", 1_000_000), ("k", 1000), ("b", 1)];
        long unit = 1;
        foreach (var (suffix, size) in units)
        {
            if (lower.EndsWith(suffix, StringComparison.Ordinal))
            {
                lower = lower[..^suffix.Length];
                unit = size;
                break;
            }
        }

        if (!long.TryParse(lower, NumberStyles.None, CultureInfo.InvariantCulture, out var amount) || amount > long.MaxValue / unit)
        {
            return false;
        }

        bytes = amount * unit;
        return true;
    }
}
