using System.Diagnostics;
using System.Globalization;
using System.Text;
using Cache.Engine;

using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>Builds INFO's text, section by section, with Redis's field names. Stateless; thread-safe.</summary>
internal static class InfoReport
{
    /// <summary>What INFO with no argument (or <c>default</c>) reports.</summary>
    public static readonly string[] DefaultSections = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "cluster", "keyspace", "datasets"];

    /// <summary>What <c>all</c> and <c>everything</c> add.</summary>
    private static readonly string[] MoreSections = ["commandstats"];

    /// <summary>True when a request for <paramref name="requested"/> reports <paramref name="section"/>.</summary>
    public static bool Includes(IReadOnlyList<string> requested, string section) => Expand(requested).Contains(section);

    /// <summary>
    /// The report for the sections a client asked for (names as given; empty: the default ones). With
    /// <paramref name="meshKeys"/>, the keyspace section counts the whole mesh's keys, and this member's beside them;
    /// with <paramref name="meshDatasets"/> (each dataset's keys summed over the members), so does the datasets section.
    /// </summary>
    public static string Build(ServerContext server, IReadOnlyList<string> requested, long? meshKeys = null, IReadOnlyDictionary<string, long>? meshDatasets = null)
    {
        var text = new StringBuilder();
        foreach (var section in Expand(requested))
        {
            var before = text.Length;
            AppendSection(server, text, section, meshKeys, meshDatasets);
            if (text.Length > before)
            {
                text.Append("\r\n");
            }
        }

        if (text.Length >= 2)
        {
            text.Length -= 2;
        }

        return text.ToString();
    }

    private static List<string> Expand(IReadOnlyList<string> requested)
    {
        var sections = new List<string>();
        foreach (var name in requested)
        {
            var section = name.ToLowerInvariant();
            if (section is "all" or "everything")
            {
                sections.AddRange(DefaultSections);
                sections.AddRange(MoreSections);
            }
            else if (section == "default")
            {
                sections.AddRange(DefaultSections);
            }
            else
            {
                sections.Add(section);
            }
        }

        if (sections.Count == 0)
        {
            sections.AddRange(DefaultSections);
        }

        return sections.Distinct().ToList();
    }

    private static void AppendSection(ServerContext server, StringBuilder text, string section, long? meshKeys, IReadOnlyDictionary<string, long>? meshDatasets)
    {
        var store = server.Store;
        var stats = store.GetStatistics();
        var baseline = server.StoreBaseline;
        var now = store.NowUnixMs;
        var uptime = (now - server.StartedAtMs) / 1000;
        var c = CultureInfo.InvariantCulture;
        switch (section)
        {
            case "server":
                text.Append("# Server\r\n")
                    .Append(c, $"redis_version:{RespSession.ReportedRedisVersion}\r\n")
                    .Append(c, $"cache_version:{typeof(RespSession).Assembly.GetName().Version}\r\n")
                    .Append(server.Host.Router is null ? "redis_mode:standalone\r\n" : "redis_mode:cluster\r\n")
                    .Append(c, $"os:{System.Runtime.InteropServices.RuntimeInformation.OSDescription}\r\n")
                    .Append(c, $"arch_bits:{IntPtr.Size * 8}\r\n")
                    .Append(c, $"runtime:.NET {Environment.Version}\r\n")
                    .Append(c, $"process_id:{Environment.ProcessId}\r\n")
                    .Append(c, $"run_id:{server.RunId}\r\n")
                    .Append(c, $"tcp_port:{server.Port}\r\n")
                    .Append(c, $"uptime_in_seconds:{uptime}\r\n")
                    .Append(c, $"uptime_in_days:{uptime / 86400}\r\n");
                break;
            case "clients":
                text.Append("# Clients\r\n")
                    .Append(c, $"connected_clients:{server.Clients.Count}\r\n")
                    .Append(c, $"maxclients:{server.Options.MaxClients}\r\n")
                    .Append(c, $"blocked_clients:{server.Clients.Values.Count(client => client.Blocked)}\r\n");
                break;
            case "memory":
                text.Append("# Memory\r\n")
                    .Append(c, $"used_memory:{stats.BytesUsed}\r\n")
                    .Append(c, $"used_memory_human:{Human(stats.BytesUsed)}\r\n")
                    .Append(c, $"used_memory_rss:{Environment.WorkingSet}\r\n")
                    .Append(c, $"used_memory_rss_human:{Human(Environment.WorkingSet)}\r\n")
                    .Append(c, $"used_memory_managed_heap:{GC.GetTotalMemory(false)}\r\n")
                    .Append(c, $"maxmemory:{(store.Capacity == ConfigSettings.Unbounded ? 0 : store.Capacity)}\r\n")
                    .Append(c, $"maxmemory_human:{Human(store.Capacity == ConfigSettings.Unbounded ? 0 : store.Capacity)}\r\n")
                    .Append(c, $"maxmemory_policy:{PolicyName(store.Policy)}\r\n")
                    .Append(c, $"cache_entry_overhead:{BlockStore.EntryOverhead}\r\n")
                    .Append(c, $"cache_samples:{store.SampleCount}\r\n")
                    .Append(c, $"cache_sample_chunk_bytes:{store.SampleChunkBytes}\r\n")
                    .Append(c, $"cache_preallocated_bytes:{store.PreallocatedBytes}\r\n")
                    .Append(c, $"cache_sample_index_bytes:{store.SampleIndexBytes}\r\n")
                    .Append(c, $"gc_collections:{GC.CollectionCount(0)},{GC.CollectionCount(1)},{GC.CollectionCount(2)}\r\n")
                    .Append(c, $"gc_pause_total_ms:{(long)GC.GetTotalPauseDuration().TotalMilliseconds}\r\n");
                break;
            case "persistence":
                // Nothing is persisted: a cache of recomputable samples.
                text.Append("# Persistence\r\nloading:0\r\nasync_loading:0\r\nrdb_changes_since_last_save:0\r\nrdb_bgsave_in_progress:0\r\nrdb_last_bgsave_status:ok\r\naof_enabled:0\r\naof_rewrite_in_progress:0\r\naof_last_write_status:ok\r\n");
                break;
            case "stats":
                text.Append("# Stats\r\n")
                    .Append(c, $"total_connections_received:{Interlocked.Read(ref server.ConnectionsReceived)}\r\n")
                    .Append(c, $"total_commands_processed:{server.CommandsProcessed.Read()}\r\n")
                    .Append(c, $"instantaneous_ops_per_sec:{server.InstantaneousOpsPerSecond}\r\n")
                    .Append(c, $"rejected_connections:{Interlocked.Read(ref server.RejectedConnections)}\r\n")
                    .Append(c, $"total_error_replies_protocol:{Interlocked.Read(ref server.ProtocolErrors)}\r\n")
                    .Append(c, $"expired_keys:{stats.Expired - baseline.Expired}\r\n")
                    .Append(c, $"evicted_keys:{stats.Evicted - baseline.Evicted}\r\n")
                    .Append(c, $"rejected_keys:{stats.Rejected - baseline.Rejected}\r\n")
                    .Append(c, $"rejected_keys_full:{stats.RejectedFull - baseline.RejectedFull}\r\n")
                    .Append(c, $"rejected_keys_too_large:{stats.RejectedTooLarge - baseline.RejectedTooLarge}\r\n")
                    .Append(c, $"keyspace_hits:{stats.Hits - baseline.Hits}\r\n")
                    .Append(c, $"keyspace_misses:{stats.Misses - baseline.Misses}\r\n");
                break;
            case "replication":
                text.Append("# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\n")
                    .Append(c, $"master_replid:{server.RunId}\r\n")
                    .Append("master_repl_offset:0\r\nrepl_backlog_active:0\r\n");
                break;
            case "cpu":
                AppendCpu(text);
                break;
            case "commandstats":
                text.Append("# Commandstats\r\n");
                foreach (var command in CommandTable.All)
                {
                    var counts = server.Stats.Read(command.Id);
                    if (counts.Calls == 0 && counts.Rejected == 0)
                    {
                        continue;
                    }

                    var perCall = counts.Calls == 0 ? 0 : (double)counts.Micros / counts.Calls;
                    text.Append(c, $"cmdstat_{command.Name}:calls={counts.Calls},usec={counts.Micros},usec_per_call={perCall:0.00},rejected_calls={counts.Rejected},failed_calls={counts.Failed}\r\n");
                }

                break;
            case "cluster":
                text.Append("# Cluster\r\n").Append(c, $"cluster_enabled:{(server.Host.Router is null ? 0 : 1)}\r\n");
                if (server.Host.Router is { } router)
                {
                    // Beyond Redis's one field: the map as this member sees it now, one line per member.
                    var members = RespSession.Members(router);
                    text.Append(c, $"mesh_members:{members.Length}\r\nmesh_rank:{router.Rank}\r\nmesh_members_left:{members.Count(m => m.State == RespSession.MemberState.Left)}\r\n");
                    for (var rank = 0; rank < members.Length; rank++)
                    {
                        var m = members[rank];
                        var state = m.State switch { RespSession.MemberState.Unreachable => "unreachable", RespSession.MemberState.Left => "left", _ => "up" };
                        text.Append(c, $"mesh_member{rank}:addr={m.Host}:{m.Port},state={(rank == router.Rank ? "self" : state)},slots={m.Ranges.Sum(r => r.End - r.Start + 1)}\r\n");
                    }
                }

                break;
            case "keyspace":
                text.Append("# Keyspace\r\n");
                if (meshKeys is { } total)
                {
                    // A plain client of a mesh member sees one cache: db0 counts the mesh; this member's share beside it.
                    if (total > 0)
                    {
                        text.Append(c, $"db0:keys={total},expires={store.ExpiringCount},avg_ttl=0\r\n");
                    }

                    text.Append(c, $"member_db0:keys={stats.Entries},expires={store.ExpiringCount},avg_ttl=0\r\n");
                }
                else if (stats.Entries > 0)
                {
                    text.Append(c, $"db0:keys={stats.Entries},expires={store.ExpiringCount},avg_ttl=0\r\n");
                }

                break;
            case "datasets":
                AppendDatasets(server, text, meshDatasets);
                break;
            default:
                break;
        }
    }

    /// <summary>
    /// The datasets section: a dataset is a tracked key prefix "{name}:", named without the colon. With
    /// <paramref name="mesh"/>, a plain client of a mesh member sees one cache, as in the keyspace section: each
    /// dataset's keys over the mesh, and this member's share beside them (<c>member_dataset_...</c>).
    /// </summary>
    private static void AppendDatasets(ServerContext server, StringBuilder text, IReadOnlyDictionary<string, long>? mesh)
    {
        var c = CultureInfo.InvariantCulture;
        var store = server.Store;
        var own = server.Host.TrackedPrefixes.ToDictionary(p => p.TrimEnd(':'), p => store.CountKeys(Encoding.UTF8.GetBytes(p)), StringComparer.Ordinal);
        var names = (mesh is null ? own.Keys : own.Keys.Union(mesh.Keys)).Order(StringComparer.Ordinal).ToArray();
        text.Append("# Datasets\r\n").Append(c, $"datasets:{names.Length}\r\n");
        foreach (var name in names)
        {
            var here = own.GetValueOrDefault(name);
            if (mesh is null)
            {
                text.Append(c, $"dataset_{name}:keys={here}\r\n");
            }
            else
            {
                text.Append(c, $"dataset_{name}:keys={mesh.GetValueOrDefault(name)}\r\n").Append(c, $"member_dataset_{name}:keys={here}\r\n");
            }
        }
    }

    /// <summary>Adds the per-dataset counts of a member's RESP2 reply to INFO datasets (a bulk string) into <paramref name="totals"/>. False when it is not one.</summary>
    internal static bool TryReadDatasets(ReadOnlySpan<byte> reply, Dictionary<string, long> totals)
    {
        var header = reply.IndexOf("\r\n"u8);
        if (header < 2 || reply[0] != (byte)'$')
        {
            return false;
        }

        foreach (var line in Encoding.UTF8.GetString(reply[(header + 2)..]).Split("\r\n"))
        {
            const string Prefix = "dataset_";
            var keys = line.IndexOf(":keys=", StringComparison.Ordinal);
            if (!line.StartsWith(Prefix, StringComparison.Ordinal) || keys < 0)
            {
                continue;
            }

            if (!long.TryParse(line.AsSpan(keys + 6), NumberStyles.None, CultureInfo.InvariantCulture, out var count))
            {
                return false;
            }

            var name = line[Prefix.Length..keys];
            totals[name] = totals.GetValueOrDefault(name) + count;
        }

        return true;
    }

    /// <summary>
    /// The process's CPU time, and the thread's that runs INFO: commands run on the socket event thread (one
    /// thread serves every connection, as Redis's main thread), and INFO is one of them.
    /// </summary>
    private static void AppendCpu(StringBuilder text)
    {
        var c = CultureInfo.InvariantCulture;
        using var process = Process.GetCurrentProcess();
        text.Append("# CPU\r\n")
            .Append(c, $"used_cpu_sys:{process.PrivilegedProcessorTime.TotalSeconds:0.000000}\r\n")
            .Append(c, $"used_cpu_user:{process.UserProcessorTime.TotalSeconds:0.000000}\r\n")
            .Append("used_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\n");
        if (TryThreadTimes(out var system, out var user))
        {
            text.Append(c, $"used_cpu_sys_main_thread:{system:0.000000}\r\n")
                .Append(c, $"used_cpu_user_main_thread:{user:0.000000}\r\n");
        }
    }

    /// <summary>The calling thread's system and user CPU seconds, from Linux's /proc/thread-self/stat.</summary>
    private static bool TryThreadTimes(out double system, out double user)
    {
        system = user = 0;
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            var stat = File.ReadAllText("/proc/thread-self/stat");

            // The name, in parentheses, may hold spaces: fields are counted from its closing parenthesis.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');

            // Fields 14 (utime) and 15 (stime), in clock ticks; Linux's USER_HZ is 100 on every architecture .NET runs on.
            const double TicksPerSecond = 100;
            user = long.Parse(fields[11], CultureInfo.InvariantCulture) / TicksPerSecond;
            system = long.Parse(fields[12], CultureInfo.InvariantCulture) / TicksPerSecond;
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return false;
        }
    }

    /// <summary>The policy's name in Redis's terms.</summary>
    public static string PolicyName(AdmissionPolicy policy) => policy switch
    {
        AdmissionPolicy.Lru => "allkeys-lru",
        AdmissionPolicy.Random => "allkeys-random",
        _ => "noeviction",
    };

    /// <summary>Bytes as Redis's *_human fields show them.</summary>
    public static string Human(long bytes)
    {
        string[] units = ["B", "K", "M", "G", "T"];
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0
            ? bytes.ToString(CultureInfo.InvariantCulture) + "B"
            : value.ToString("0.00", CultureInfo.InvariantCulture) + units[unit];
    }
}
