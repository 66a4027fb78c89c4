using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Cache.Engine;
using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>Connection and server commands.</summary>
internal sealed partial class RespSession
{
    /// <summary>The Redis version the server reports, so that clients enable the Redis 7 features it implements.</summary>
    public const string ReportedRedisVersion = "7.0.0";

    private static readonly string[] DefaultSections = ["server", "clients", "memory", "stats", "cluster", "keyspace", "datasets"];

    private void Ping(in CommandArgs a)
    {
        if (a.Count > 2)
        {
            WrongArity("ping");
        }
        else if (a.Count == 2)
        {
            _out.Bulk(a[1]);
        }
        else
        {
            _out.SimpleString("PONG"u8);
        }
    }

    private void Hello(in CommandArgs a)
    {
        var protocol = _out.Protocol;
        if (a.Count >= 2)
        {
            if (!TryLong(a[1], out var requested))
            {
                _out.Error("ERR Protocol version is not an integer or out of range");
                return;
            }

            if (requested is < 2 or > 3)
            {
                _out.Error("NOPROTO unsupported protocol version");
                return;
            }

            protocol = (int)requested;
        }

        string? name = null;
        var authenticated = Authenticated;
        for (var i = 2; i < a.Count; i++)
        {
            if (a.Is(i, "AUTH"u8) && i + 2 < a.Count)
            {
                if (!PasswordMatches(a[i + 1], a[i + 2]))
                {
                    _out.Error("WRONGPASS invalid username-password pair or user is disabled.");
                    return;
                }

                authenticated = true;
                i += 2;
            }
            else if (a.Is(i, "SETNAME"u8) && i + 1 < a.Count)
            {
                name = a.Text(++i);
                if (!IsValidClientName(name))
                {
                    _out.Error("ERR Client names cannot contain spaces, newlines or special characters.");
                    return;
                }
            }
            else
            {
                _out.Error($"ERR Syntax error in HELLO option '{a.Text(i)}'");
                return;
            }
        }

        if (!authenticated)
        {
            _out.Error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
            return;
        }

        Authenticated = true;
        if (name is not null)
        {
            _client.Name = name;
        }

        _out.Protocol = protocol;
        _client.Protocol = protocol;
        _out.MapHeader(7);
        _out.Bulk("server");
        _out.Bulk("redis");
        _out.Bulk("version");
        _out.Bulk(ReportedRedisVersion);
        _out.Bulk("proto");
        _out.IntegerValue(protocol);
        _out.Bulk("id");
        _out.IntegerValue(_client.Id);
        _out.Bulk("mode");
        _out.Bulk("standalone");
        _out.Bulk("role");
        _out.Bulk("master");
        _out.Bulk("modules");
        _out.ArrayHeader(0);
    }

    private void Auth(in CommandArgs a)
    {
        if (a.Count > 3)
        {
            _out.Error(SyntaxError);
            return;
        }

        if (_server.RequirePass is null && a.Count == 2)
        {
            _out.Error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
            return;
        }

        var user = a.Count == 3 ? a[1] : "default"u8;
        if (!PasswordMatches(user, a[a.Count - 1]))
        {
            _out.Error("WRONGPASS invalid username-password pair or user is disabled.");
            return;
        }

        Authenticated = true;
        _out.Ok();
    }

    private bool PasswordMatches(ReadOnlySpan<byte> user, ReadOnlySpan<byte> password)
    {
        if (!user.SequenceEqual("default"u8))
        {
            return false;
        }

        if (_server.RequirePass is null)
        {
            return true;
        }

        // Compare digests in constant time, so that neither the length nor a prefix of the password leaks through timing.
        var expected = SHA256.HashData(Encoding.UTF8.GetBytes(_server.RequirePass));
        var given = SHA256.HashData(password);
        return CryptographicOperations.FixedTimeEquals(expected, given);
    }

    private void Select(in CommandArgs a)
    {
        if (!TryLong(a[1], out var db))
        {
            _out.Error(NotInteger);
        }
        else if (db != 0)
        {
            _out.Error("ERR DB index is out of range");
        }
        else
        {
            _out.Ok();
        }
    }

    private void Reset()
    {
        _out.Protocol = 2;
        _client.Protocol = 2;
        _client.Name = "";
        Authenticated = _server.RequirePass is null;
        _out.SimpleString("RESET"u8);
    }

    private void ClientCommand(in CommandArgs a)
    {
        if (a.Is(1, "ID"u8) && a.Count == 2)
        {
            _out.IntegerValue(_client.Id);
        }
        else if (a.Is(1, "GETNAME"u8) && a.Count == 2)
        {
            if (_client.Name.Length == 0)
            {
                _out.Null();
            }
            else
            {
                _out.Bulk(_client.Name);
            }
        }
        else if (a.Is(1, "SETNAME"u8) && a.Count == 3)
        {
            var name = a.Text(2);
            if (!IsValidClientName(name))
            {
                _out.Error("ERR Client names cannot contain spaces, newlines or special characters.");
                return;
            }

            _client.Name = name;
            _out.Ok();
        }
        else if (a.Is(1, "SETINFO"u8) && a.Count == 4)
        {
            var value = a.Text(3);
            if (a.Is(2, "LIB-NAME"u8))
            {
                _client.LibName = value;
            }
            else if (a.Is(2, "LIB-VER"u8))
            {
                _client.LibVersion = value;
            }
            else
            {
                _out.Error($"ERR Unrecognized option '{a.Text(2)}'");
                return;
            }

            _out.Ok();
        }
        else if ((a.Is(1, "NO-EVICT"u8) || a.Is(1, "NO-TOUCH"u8)) && a.Count == 3)
        {
            _out.Ok();
        }
        else if (a.Is(1, "INFO"u8) && a.Count == 2)
        {
            _out.Bulk(DescribeClient(_client) + "\n");
        }
        else if (a.Is(1, "LIST"u8))
        {
            var text = new StringBuilder();
            foreach (var client in _server.Clients.Values.OrderBy(c => c.Id))
            {
                text.Append(DescribeClient(client)).Append('\n');
            }

            _out.Bulk(text.ToString());
        }
        else if (a.Is(1, "HELP"u8))
        {
            WriteLines(
                "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GETNAME", "    Return the name of the current connection.",
                "ID", "    Return the ID of the current connection.",
                "INFO", "    Return information about the current client connection.",
                "LIST", "    Return information about client connections.",
                "SETNAME <name>", "    Assign the name <name> to the current connection.",
                "SETINFO <LIB-NAME|LIB-VER> <value>", "    Set client library name or version.",
                "HELP", "    Print this help.");
        }
        else if (a.Is(1, "ID"u8) || a.Is(1, "GETNAME"u8) || a.Is(1, "SETNAME"u8) || a.Is(1, "SETINFO"u8) || a.Is(1, "INFO"u8))
        {
            WrongArity("client|" + a.Text(1).ToLowerInvariant());
        }
        else
        {
            UnknownSubcommand(a, "CLIENT");
        }
    }

    private string DescribeClient(ClientInfo client)
    {
        var now = _store.NowUnixMs;
        return string.Create(CultureInfo.InvariantCulture,
            $"id={client.Id} addr={client.Remote} laddr={client.Local} fd=0 name={client.Name} age={(now - client.ConnectedAtMs) / 1000} idle={(now - client.LastInteractionMs) / 1000} flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf={client.QueryBufferBytes} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={client.LastCommand} user=default redir=-1 resp={client.Protocol} lib-name={client.LibName} lib-ver={client.LibVersion}");
    }

    private static bool IsValidClientName(string name)
    {
        foreach (var c in name)
        {
            if (c < '!' || c > '~')
            {
                return false;
            }
        }

        return true;
    }

    private void Time()
    {
        var now = TimeProvider.System.GetUtcNow();
        var micros = (now.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
        _out.ArrayHeader(2);
        _out.Bulk((micros / 1_000_000).ToString(CultureInfo.InvariantCulture));
        _out.Bulk((micros % 1_000_000).ToString(CultureInfo.InvariantCulture));
    }

    private void Info(in CommandArgs a)
    {
        var sections = new List<string>();
        for (var i = 1; i < a.Count; i++)
        {
            var section = a.Text(i).ToLowerInvariant();
            if (section is "all" or "everything" or "default")
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

        var text = new StringBuilder();
        foreach (var section in sections.Distinct())
        {
            var before = text.Length;
            AppendInfoSection(text, section);
            if (text.Length > before)
            {
                text.Append("\r\n");
            }
        }

        if (text.Length >= 2)
        {
            text.Length -= 2;
        }

        _out.Bulk(text.ToString());
    }

    private void AppendInfoSection(StringBuilder text, string section)
    {
        var stats = _store.GetStatistics();
        var now = _store.NowUnixMs;
        var uptime = (now - _server.StartedAtMs) / 1000;
        var c = CultureInfo.InvariantCulture;
        switch (section)
        {
            case "server":
                text.Append("# Server\r\n")
                    .Append(c, $"redis_version:{ReportedRedisVersion}\r\n")
                    .Append(c, $"cache_version:{typeof(RespSession).Assembly.GetName().Version}\r\n")
                    .Append(_server.Host.Router is null ? "redis_mode:standalone\r\n" : "redis_mode:cluster\r\n")
                    .Append(c, $"os:{System.Runtime.InteropServices.RuntimeInformation.OSDescription}\r\n")
                    .Append(c, $"arch_bits:{IntPtr.Size * 8}\r\n")
                    .Append(c, $"runtime:.NET {Environment.Version}\r\n")
                    .Append(c, $"process_id:{Environment.ProcessId}\r\n")
                    .Append(c, $"run_id:{_server.RunId}\r\n")
                    .Append(c, $"tcp_port:{_server.Port}\r\n")
                    .Append(c, $"uptime_in_seconds:{uptime}\r\n")
                    .Append(c, $"uptime_in_days:{uptime / 86400}\r\n");
                break;
            case "clients":
                text.Append("# Clients\r\n")
                    .Append(c, $"connected_clients:{_server.Clients.Count}\r\n")
                    .Append(c, $"maxclients:{_server.Options.MaxClients}\r\n")
                    .Append("blocked_clients:0\r\n");
                break;
            case "memory":
                text.Append("# Memory\r\n")
                    .Append(c, $"used_memory:{stats.BytesUsed}\r\n")
                    .Append(c, $"used_memory_human:{Human(stats.BytesUsed)}\r\n")
                    .Append(c, $"used_memory_rss:{Environment.WorkingSet}\r\n")
                    .Append(c, $"used_memory_rss_human:{Human(Environment.WorkingSet)}\r\n")
                    .Append(c, $"used_memory_managed_heap:{GC.GetTotalMemory(false)}\r\n")
                    .Append(c, $"maxmemory:{_store.Capacity}\r\n")
                    .Append(c, $"maxmemory_human:{Human(_store.Capacity)}\r\n")
                    .Append(c, $"maxmemory_policy:{PolicyName(_store.Policy)}\r\n")
                    .Append(c, $"cache_entry_overhead:{BlockStore.EntryOverhead}\r\n")
                    .Append(c, $"gc_collections:{GC.CollectionCount(0)},{GC.CollectionCount(1)},{GC.CollectionCount(2)}\r\n")
                    .Append(c, $"gc_pause_total_ms:{(long)GC.GetTotalPauseDuration().TotalMilliseconds}\r\n");
                break;
            case "stats":
                text.Append("# Stats\r\n")
                    .Append(c, $"total_connections_received:{Interlocked.Read(ref _server.ConnectionsReceived)}\r\n")
                    .Append(c, $"total_commands_processed:{_server.CommandsProcessed.Read()}\r\n")
                    .Append(c, $"instantaneous_ops_per_sec:{_server.InstantaneousOpsPerSecond}\r\n")
                    .Append(c, $"rejected_connections:{Interlocked.Read(ref _server.RejectedConnections)}\r\n")
                    .Append(c, $"total_error_replies_protocol:{Interlocked.Read(ref _server.ProtocolErrors)}\r\n")
                    .Append(c, $"expired_keys:{stats.Expired}\r\n")
                    .Append(c, $"evicted_keys:{stats.Evicted}\r\n")
                    .Append(c, $"rejected_keys:{stats.Rejected}\r\n")
                    .Append(c, $"rejected_keys_full:{stats.RejectedFull}\r\n")
                    .Append(c, $"rejected_keys_too_large:{stats.RejectedTooLarge}\r\n")
                    .Append(c, $"keyspace_hits:{stats.Hits}\r\n")
                    .Append(c, $"keyspace_misses:{stats.Misses}\r\n");
                break;
            case "cluster":
                text.Append("# Cluster\r\n").Append(c, $"cluster_enabled:{(_server.Host.Router is null ? 0 : 1)}\r\n");
                break;
            case "keyspace":
                text.Append("# Keyspace\r\n");
                if (stats.Entries > 0)
                {
                    text.Append(c, $"db0:keys={stats.Entries},expires={_store.ExpiringCount},avg_ttl=0\r\n");
                }

                break;
            case "datasets":
                // A dataset is a tracked key prefix "{name}:"; the section names it without the colon.
                var prefixes = _server.Host.TrackedPrefixes.OrderBy(n => n, StringComparer.Ordinal).ToArray();
                text.Append("# Datasets\r\n").Append(c, $"datasets:{prefixes.Length}\r\n");
                foreach (var prefix in prefixes)
                {
                    text.Append(c, $"dataset_{prefix.TrimEnd(':')}:keys={_store.CountKeys(Encoding.UTF8.GetBytes(prefix))}\r\n");
                }

                break;
            default:
                break;
        }
    }

    private static string PolicyName(AdmissionPolicy policy) => policy switch
    {
        AdmissionPolicy.Lru => "allkeys-lru",
        AdmissionPolicy.Random => "allkeys-random",
        _ => "noeviction",
    };

    private static string Human(long bytes)
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

    private void Command(in CommandArgs a)
    {
        if (a.Count == 1)
        {
            _out.ArrayHeader(CommandTable.All.Count);
            foreach (var command in CommandTable.All)
            {
                WriteCommandInfo(command);
            }
        }
        else if (a.Is(1, "COUNT"u8) && a.Count == 2)
        {
            _out.IntegerValue(CommandTable.All.Count);
        }
        else if (a.Is(1, "LIST"u8))
        {
            _out.ArrayHeader(CommandTable.All.Count);
            foreach (var command in CommandTable.All)
            {
                _out.Bulk(command.Name);
            }
        }
        else if (a.Is(1, "INFO"u8))
        {
            if (a.Count == 2)
            {
                _out.ArrayHeader(CommandTable.All.Count);
                foreach (var command in CommandTable.All)
                {
                    WriteCommandInfo(command);
                }

                return;
            }

            _out.ArrayHeader(a.Count - 2);
            for (var i = 2; i < a.Count; i++)
            {
                if (CommandTable.TryLookup(a[i], out var command))
                {
                    WriteCommandInfo(command);
                }
                else
                {
                    _out.NullArray();
                }
            }
        }
        else if (a.Is(1, "DOCS"u8))
        {
            var wanted = new List<CommandDef>();
            if (a.Count == 2)
            {
                wanted.AddRange(CommandTable.All);
            }
            else
            {
                for (var i = 2; i < a.Count; i++)
                {
                    if (CommandTable.TryLookup(a[i], out var command))
                    {
                        wanted.Add(command);
                    }
                }
            }

            _out.MapHeader(wanted.Count);
            foreach (var command in wanted)
            {
                _out.Bulk(command.Name);
                _out.MapHeader(3);
                _out.Bulk("summary");
                _out.Bulk(command.Summary);
                _out.Bulk("since");
                _out.Bulk(command.Since);
                _out.Bulk("group");
                _out.Bulk(command.Group);
            }
        }
        else if (a.Is(1, "HELP"u8))
        {
            WriteLines(
                "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "(no subcommand)", "    Return details about all commands.",
                "COUNT", "    Return the total number of commands in this server.",
                "LIST", "    Return a list of all commands in this server.",
                "INFO [<command-name> ...]", "    Return details about multiple commands.",
                "DOCS [<command-name> ...]", "    Return documentation details about multiple commands.",
                "HELP", "    Print this help.");
        }
        else
        {
            UnknownSubcommand(a, "COMMAND");
        }
    }

    private void WriteCommandInfo(CommandDef command)
    {
        _out.ArrayHeader(10);
        _out.Bulk(command.Name);
        _out.IntegerValue(command.Arity);
        _out.SetHeader(command.Flags.Length);
        foreach (var flag in command.Flags)
        {
            _out.SimpleString(flag);
        }

        _out.IntegerValue(command.FirstKey);
        _out.IntegerValue(command.LastKey);
        _out.IntegerValue(command.Step);
        _out.SetHeader(0);
        _out.SetHeader(0);
        _out.ArrayHeader(0);
        _out.ArrayHeader(0);
    }

    private void Config(in CommandArgs a)
    {
        if (a.Is(1, "GET"u8) && a.Count >= 3)
        {
            var all = ConfigValues();
            var matched = new List<KeyValuePair<string, string>>();
            foreach (var (name, value) in all)
            {
                for (var i = 2; i < a.Count; i++)
                {
                    if (GlobPattern.IsMatch(a[i], Encoding.ASCII.GetBytes(name), ignoreCase: true))
                    {
                        matched.Add(new(name, value));
                        break;
                    }
                }
            }

            _out.MapHeader(matched.Count);
            foreach (var (name, value) in matched)
            {
                _out.Bulk(name);
                _out.Bulk(value);
            }
        }
        else if (a.Is(1, "SET"u8) && a.Count >= 4)
        {
            _out.Error($"ERR CONFIG SET failed (possibly related to argument '{a.Text(2)}') - can't set immutable config");
        }
        else if (a.Is(1, "RESETSTAT"u8) && a.Count == 2)
        {
            _out.Ok();
        }
        else if (a.Is(1, "HELP"u8))
        {
            WriteLines(
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
                "HELP", "    Print this help.");
        }
        else if (a.Is(1, "GET"u8) || a.Is(1, "SET"u8) || a.Is(1, "RESETSTAT"u8))
        {
            WrongArity("config|" + a.Text(1).ToLowerInvariant());
        }
        else
        {
            UnknownSubcommand(a, "CONFIG");
        }
    }

    private List<KeyValuePair<string, string>> ConfigValues()
    {
        var c = CultureInfo.InvariantCulture;
        var o = _server.Options;
        return
        [
            new("maxmemory", _store.Capacity.ToString(c)),
            new("maxmemory-policy", PolicyName(_store.Policy)),
            new("maxclients", o.MaxClients.ToString(c)),
            new("port", _server.Port.ToString(c)),
            new("bind", o.BindAddress.ToString()),
            new("protected-mode", o.ProtectedMode ? "yes" : "no"),
            new("requirepass", ""),
            new("proto-max-bulk-len", o.MaxBulkLength.ToString(c)),
            new("client-query-buffer-limit", o.MaxQueryBuffer.ToString(c)),
            new("save", ""),
            new("appendonly", "no"),
            new("databases", "1"),
            new("timeout", "0"),
            new("replica-read-only", "yes"),
            new("slave-read-only", "yes"),
            new("cluster-enabled", _server.Host.Router is null ? "no" : "yes"),
        ];
    }

    private void Memory(in CommandArgs a)
    {
        if (a.Is(1, "USAGE"u8) && (a.Count == 3 || (a.Count == 5 && a.Is(3, "SAMPLES"u8))))
        {
            var usage = _store.MemoryUsage(a[2]);
            if (usage < 0)
            {
                _out.Null();
            }
            else
            {
                _out.IntegerValue(usage);
            }
        }
        else if (a.Is(1, "HELP"u8))
        {
            WriteLines(
                "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "USAGE <key> [SAMPLES <count>]", "    Return memory in bytes used by <key> and its value.",
                "HELP", "    Print this help.");
        }
        else if (a.Is(1, "USAGE"u8))
        {
            _out.Error(SyntaxError);
        }
        else
        {
            UnknownSubcommand(a, "MEMORY");
        }
    }

    private void WriteLines(params string[] lines)
    {
        _out.ArrayHeader(lines.Length);
        foreach (var line in lines)
        {
            _out.SimpleString(line);
        }
    }
}
