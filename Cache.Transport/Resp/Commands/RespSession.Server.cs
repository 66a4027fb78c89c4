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
        ResetState();
        _out.SimpleString("RESET"u8);
    }

    private void ClientCommand(in CommandArgs a)
    {
        if (ClientCommandMore(a))
        {
            return;
        }

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
        else if (a.Is(1, "NO-TOUCH"u8) && a.Count == 3)
        {
            // Accepted (Redis 7.2's), but reads here still mark a key as used: the store has no read that does not.
            if (a.Is(2, "ON"u8) || a.Is(2, "OFF"u8))
            {
                _out.Ok();
            }
            else
            {
                _out.Error(SyntaxError);
            }
        }
        else if (a.Is(1, "INFO"u8) && a.Count == 2)
        {
            _out.Verbatim(Describe(_client, ArgBytes(a)) + "\n");
        }
        else if (a.Is(1, "LIST"u8))
        {
            var text = new StringBuilder();
            foreach (var client in _server.Clients.Values.OrderBy(c => c.Id))
            {
                text.Append(Describe(client, client == _client ? ArgBytes(a) : 0)).Append('\n');
            }

            _out.Verbatim(text.ToString());
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
        var sections = new List<string>(a.Count - 1);
        for (var i = 1; i < a.Count; i++)
        {
            sections.Add(a.Text(i));
        }

        _out.Verbatim(InfoReport.Build(_server, sections));
    }

    private void Command(in CommandArgs a)
    {
        if (a.Count == 1)
        {
            _out.ArrayHeader(CommandTable.All.Count);
            foreach (var command in CommandTable.All)
            {
                CommandReport.WriteInfo(_out, command);
            }
        }
        else if (a.Is(1, "COUNT"u8) && a.Count == 2)
        {
            _out.IntegerValue(CommandTable.All.Count);
        }
        else if (a.Is(1, "LIST"u8))
        {
            CommandList(a);
        }
        else if (a.Is(1, "GETKEYS"u8) || a.Is(1, "GETKEYSANDFLAGS"u8))
        {
            CommandGetKeys(a);
        }
        else if (a.Is(1, "INFO"u8))
        {
            if (a.Count == 2)
            {
                _out.ArrayHeader(CommandTable.All.Count);
                foreach (var command in CommandTable.All)
                {
                    CommandReport.WriteInfo(_out, command);
                }

                return;
            }

            _out.ArrayHeader(a.Count - 2);
            for (var i = 2; i < a.Count; i++)
            {
                if (CommandTable.TryLookup(a[i], out var command))
                {
                    CommandReport.WriteInfo(_out, command);
                }
                else
                {
                    // Redis 7 answers an unknown name with a null (a null bulk in RESP2).
                    _out.Null();
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

            CommandReport.WriteDocs(_out, wanted);
        }
        else if (a.Is(1, "COUNT"u8))
        {
            WrongArity("command|count");
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

    private void Config(in CommandArgs a)
    {
        if (a.Is(1, "GET"u8) && a.Count >= 3)
        {
            var matched = ConfigSettings.Matching(_server, a, 2);
            _out.MapHeader(matched.Count);
            foreach (var (name, value) in matched)
            {
                _out.Bulk(name);
                _out.Bulk(value);
            }
        }
        else if (a.Is(1, "SET"u8) && a.Count >= 4 && a.Count % 2 == 0)
        {
            var pairs = new List<(string, string)>();
            for (var i = 2; i < a.Count; i += 2)
            {
                pairs.Add((a.Text(i), a.Text(i + 1)));
            }

            if (ConfigSettings.TrySet(_server, pairs) is { } error)
            {
                _out.Error(error);
            }
            else
            {
                _out.Ok();
            }
        }
        else if (a.Is(1, "RESETSTAT"u8) && a.Count == 2)
        {
            _server.Stats.Reset();
            _server.SlowLog.Reset();
            _server.CommandsProcessed.Reset();
            Interlocked.Exchange(ref _server.ConnectionsReceived, 0);
            Interlocked.Exchange(ref _server.RejectedConnections, 0);
            Interlocked.Exchange(ref _server.ProtocolErrors, 0);
            _server.StoreBaseline = _store.GetStatistics();
            _out.Ok();
        }
        else if (a.Is(1, "HELP"u8))
        {
            WriteLines(
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
                "RESETSTAT", "    Reset statistics reported by the INFO command.",
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
            if (a.Count < 3)
            {
                WrongArity("memory|usage");
            }
            else
            {
                _out.Error(SyntaxError);
            }
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
