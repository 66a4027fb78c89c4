using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;

using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>MONITOR, SLOWLOG, LATENCY, OBJECT, FUNCTION, CLIENT KILL/REPLY, READONLY/READWRITE: what people use to look inside a running node.</summary>
internal sealed partial class RespSession
{
    private const string NoLfu = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

    private MonitorSink? _monitor;
    private bool _repliesOff;
    private bool _skipNextReply;
    private bool _redirected;
    private IBufferWriter<byte>? _realOutput;
    private ArrayBufferWriter<byte>? _discard;

    /// <summary>Wakes the connection's loop (a monitor line is waiting, or the client was killed); set by the connection.</summary>
    internal Action? Wake { get; set; }

    /// <summary>The monitor lines waiting for this client, once it sent MONITOR.</summary>
    internal MonitorSink? Monitor => _monitor;

    /// <summary>True once the connection asked for the cluster's layout (CLUSTER SLOTS|SHARDS|NODES, READONLY, READWRITE): it gets per-node answers.</summary>
    internal bool ClusterAware { get; private set; }

    private void DispatchMore(in CommandArgs a, CommandDef command)
    {
        switch (command.Id)
        {
            case CommandId.Multi: Multi(); break;
            case CommandId.Exec: Exec(); break;
            case CommandId.Discard: Discard(); break;
            case CommandId.Watch: Watch(a); break;
            case CommandId.Unwatch: Unwatch(); break;
            case CommandId.Monitor: MonitorCommand(); break;
            case CommandId.SlowLog: SlowLogCommand(a); break;
            case CommandId.Latency: LatencyCommand(a); break;
            case CommandId.Object: ObjectCommand(a); break;
            case CommandId.Function: FunctionCommand(a); break;
            case CommandId.ReadOnly:
            case CommandId.ReadWrite:
                ClusterAware = true;
                if (_server.Host.Router is null)
                {
                    _out.Error("ERR This instance has cluster support disabled");
                }
                else
                {
                    _out.Ok();
                }

                break;
            case CommandId.Lolwut: _out.Verbatim("Redis ver. " + ReportedRedisVersion + "\n"); break;
            default: DispatchKeysAndStrings(a, command); break;
        }
    }

    /// <summary>CLIENT REPLY OFF|SKIP: the replies of this command go nowhere.</summary>
    private void BeginReply()
    {
        var skip = _skipNextReply;
        _skipNextReply = false;
        if (_repliesOff || skip)
        {
            _realOutput ??= _out.Output;
            _discard ??= new ArrayBufferWriter<byte>(256);
            _out.Redirect(_discard);
            _redirected = true;
        }
    }

    private void EndReply()
    {
        if (_redirected)
        {
            _redirected = false;
            _out.Redirect(_realOutput!);
            _discard!.ResetWrittenCount();
        }
    }

    /// <summary>After a command ran: the slow log and the monitors.</summary>
    private void Observe(in CommandArgs a, CommandDef command, long ticks)
    {
        var micros = ticks * 1_000_000 / _server.Time.TimestampFrequency;
        if (_server.SlowLog.IsSlow(micros) && command.Id != CommandId.Exec)
        {
            _server.SlowLog.Add(a, _store.NowUnixMs / 1000, micros, _client.Address, _client.Name);
        }

        // As Redis: a command flagged fast that takes long says the machine, not the command, is slow.
        _server.Latency.AddIfNeeded(command.IsFast ? "fast-command" : "command", micros / 1000);

        if (_server.Monitors.Active && !command.IsAdmin)
        {
            var now = _server.Time.GetUtcNow();
            var unixMicros = (now.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
            if (command.Id == CommandId.Auth)
            {
                _server.Monitors.Feed(a, unixMicros, _client.Address, redactFrom: 1);
                return;
            }

            var redactFrom = int.MaxValue;
            if (command.Id == CommandId.Hello)
            {
                for (var i = 2; i < a.Count; i++)
                {
                    if (a.Is(i, "AUTH"u8))
                    {
                        redactFrom = i + 1;
                        break;
                    }
                }
            }

            _server.Monitors.Feed(a, unixMicros, _client.Address, redactFrom, 2);
        }
    }

    private void MonitorCommand()
    {
        if (_queued is not null || _inExec)
        {
            _out.Error("ERR MONITOR isn't allowed for DENY BLOCKING client");
            return;
        }

        if (_monitor is not null || Wake is null)
        {
            // Already monitoring (Redis ignores it), or a session that cannot stream (forwarded commands).
            if (Wake is null)
            {
                _out.Error("ERR MONITOR is not available on this connection");
            }

            return;
        }

        _monitor = new MonitorSink(_server.Options.MaxOutputBuffer, Wake);
        _client.Monitoring = true;
        _server.Monitors.Add(_monitor);
        _out.Ok();
    }

    /// <summary>Stops feeding this client (its connection is closing).</summary>
    internal void StopMonitor()
    {
        if (_monitor is not null)
        {
            _server.Monitors.Remove(_monitor);
        }
    }

    private void SlowLogCommand(in CommandArgs a)
    {
        var log = _server.SlowLog;
        if (a.Is(1, "GET"u8) && a.Count <= 3)
        {
            var count = 10L;
            if (a.Count == 3 && (!TryLong(a[2], out count) || count < -1))
            {
                _out.Error("ERR count should be greater than or equal to -1");
                return;
            }

            var entries = log.Get(count);
            _out.ArrayHeader(entries.Count);
            foreach (var e in entries)
            {
                _out.ArrayHeader(6);
                _out.IntegerValue(e.Id);
                _out.IntegerValue(e.UnixSeconds);
                _out.IntegerValue(e.Micros);
                _out.ArrayHeader(e.Args.Length);
                foreach (var arg in e.Args)
                {
                    _out.Bulk(arg);
                }

                _out.Bulk(e.Client);
                _out.Bulk(e.Name);
            }
        }
        else if (a.Is(1, "LEN"u8) && a.Count == 2)
        {
            _out.IntegerValue(log.Count);
        }
        else if (a.Is(1, "RESET"u8) && a.Count == 2)
        {
            log.Reset();
            _out.Ok();
        }
        else if (a.Is(1, "HELP"u8) && a.Count == 2)
        {
            WriteLines(
                "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET [<count>]", "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
                "    Entries are made of:",
                "    id, timestamp, time in microseconds, arguments array, client IP and port,",
                "    client name",
                "LEN", "    Return the length of the slowlog.",
                "RESET", "    Reset the slowlog.",
                "HELP", "    Print this help.");
        }
        else if (a.Is(1, "GET"u8) || a.Is(1, "LEN"u8) || a.Is(1, "RESET"u8) || a.Is(1, "HELP"u8))
        {
            WrongArity("slowlog|" + a.Text(1).ToLowerInvariant());
        }
        else
        {
            UnknownSubcommand(a, "SLOWLOG");
        }
    }

    private void LatencyCommand(in CommandArgs a)
    {
        var latency = _server.Latency;
        if (a.Is(1, "LATEST"u8) && a.Count == 2)
        {
            var events = latency.Latest();
            _out.ArrayHeader(events.Count);
            foreach (var (name, time, last, max) in events)
            {
                _out.ArrayHeader(4);
                _out.Bulk(name);
                _out.IntegerValue(time);
                _out.IntegerValue(last);
                _out.IntegerValue(max);
            }
        }
        else if (a.Is(1, "HISTORY"u8) && a.Count == 3)
        {
            var samples = latency.History(Encoding.UTF8.GetString(a[2]));
            _out.ArrayHeader(samples.Count);
            foreach (var (time, value) in samples)
            {
                _out.ArrayHeader(2);
                _out.IntegerValue(time);
                _out.IntegerValue(value);
            }
        }
        else if (a.Is(1, "GRAPH"u8) && a.Count == 3)
        {
            // No ASCII art here; what Redis answers for an event it has no samples of, and the samples as HISTORY has them otherwise.
            var name = Encoding.UTF8.GetString(a[2]);
            var samples = latency.History(name);
            if (samples.Count == 0)
            {
                _out.Error($"ERR No samples available for event '{name}'");
            }
            else
            {
                var text = new StringBuilder(name).Append(" - high ").Append(samples.Max(s => s.Latency)).Append(" ms, low ").Append(samples.Min(s => s.Latency)).Append(" ms\n");
                foreach (var (time, value) in samples)
                {
                    text.Append(time).Append(' ').Append(value).Append('\n');
                }

                _out.Verbatim(text.ToString());
            }
        }
        else if (a.Is(1, "RESET"u8))
        {
            string[]? names = null;
            if (a.Count > 2)
            {
                names = new string[a.Count - 2];
                for (var i = 2; i < a.Count; i++)
                {
                    names[i - 2] = Encoding.UTF8.GetString(a[i]);
                }
            }

            _out.IntegerValue(latency.Reset(names));
        }
        else if (a.Is(1, "DOCTOR"u8) && a.Count == 2)
        {
            _out.Verbatim(latency.Doctor(_server.SlowLog.ThresholdMicros));
        }
        else if (a.Is(1, "HISTOGRAM"u8))
        {
            LatencyHistogram(a);
        }
        else if (a.Is(1, "HELP"u8) && a.Count == 2)
        {
            WriteLines(
                "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "DOCTOR", "    Return a human readable latency analysis report.",
                "GRAPH <event>", "    Return an ASCII latency graph for the <event> class.",
                "HISTORY <event>", "    Return time-latency samples for the <event> class.",
                "LATEST", "    Return the latest latency samples for all events.",
                "RESET [<event> ...]", "    Reset latency data of one or more <event> classes.",
                "    (default: reset all data for all event classes)",
                "HISTOGRAM [COMMAND ...]", "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
                "    If no commands are specified then all histograms are replied.",
                "HELP", "    Print this help.");
        }
        else if (a.Is(1, "HISTORY"u8) || a.Is(1, "GRAPH"u8) || a.Is(1, "LATEST"u8) || a.Is(1, "DOCTOR"u8) || a.Is(1, "HELP"u8))
        {
            WrongArity("latency|" + Shown(a[1]).ToLowerInvariant());
        }
        else
        {
            UnknownSubcommand(a, "LATENCY");
        }
    }

    /// <summary>LATENCY HISTOGRAM: per command, its calls and a cumulative histogram over power-of-two microsecond buckets, as Redis 7 replies.</summary>
    private void LatencyHistogram(in CommandArgs a)
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
                if (CommandTable.TryLookup(a[i], out var command) && !wanted.Contains(command))
                {
                    wanted.Add(command);
                }
            }
        }

        var rows = new List<(CommandDef Command, CommandCounts Counts)>();
        foreach (var command in wanted)
        {
            var counts = _server.Stats.Read(command.Id);
            if (counts.Calls > 0)
            {
                rows.Add((command, counts));
            }
        }

        _out.MapHeader(rows.Count);
        foreach (var (command, counts) in rows)
        {
            _out.Bulk(command.Name);
            _out.MapHeader(2);
            _out.Bulk("calls");
            _out.IntegerValue(counts.Calls);
            _out.Bulk("histogram_usec");
            var buckets = 0;
            foreach (var n in counts.Histogram)
            {
                buckets += n > 0 ? 1 : 0;
            }

            _out.MapHeader(buckets);
            long cumulative = 0;
            for (var i = 0; i < counts.Histogram.Length; i++)
            {
                cumulative += counts.Histogram[i];
                if (counts.Histogram[i] > 0)
                {
                    // Bucket i holds calls under 2^i us; Redis labels a bucket with its upper bound.
                    _out.IntegerValue(1L << i);
                    _out.IntegerValue(cumulative);
                }
            }
        }
    }

    private void ObjectCommand(in CommandArgs a)
    {
        if (a.Is(1, "HELP"u8) && a.Count == 2)
        {
            WriteLines(
                "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "ENCODING <key>", "    Return the kind of internal representation used in order to store the value",
                "    associated with a <key>.",
                "FREQ <key>", "    Return the access logarithmic counter of a <key>. Only available when a",
                "    LFU maxmemory policy is set.",
                "IDLETIME <key>", "    Return the idle time of a <key>, that is the approximated number of",
                "    seconds elapsed since the last access to the key.",
                "REFCOUNT <key>", "    Return the number of references of the value associated with the specified",
                "    <key>.",
                "HELP", "    Print this help.");
            return;
        }

        var known = a.Is(1, "ENCODING"u8) || a.Is(1, "FREQ"u8) || a.Is(1, "IDLETIME"u8) || a.Is(1, "REFCOUNT"u8);
        if (!known || a.Count != 3)
        {
            if (known || a.Is(1, "HELP"u8))
            {
                WrongArity("object|" + a.Text(1).ToLowerInvariant());
            }
            else
            {
                UnknownSubcommand(a, "OBJECT");
            }

            return;
        }

        var encoding = "";
        if (!_store.TryRead(a[2], 0, (value, _) => encoding = EncodingOf(value)))
        {
            _out.Null();
            return;
        }

        if (a.Is(1, "ENCODING"u8))
        {
            _out.Bulk(encoding);
        }
        else if (a.Is(1, "REFCOUNT"u8))
        {
            // Values are never shared between keys here.
            _out.IntegerValue(1);
        }
        else if (a.Is(1, "FREQ"u8))
        {
            // No policy here counts accesses (Lru keeps one reference bit): Redis's answer without an LFU policy.
            _out.Error(NoLfu);
        }
        else
        {
            _out.Error("ERR this server does not track a key's last access time (its LRU policy keeps one reference bit per key)");
        }
    }

    /// <summary>The encoding Redis would report for a string value: int, embstr (up to 44 bytes) or raw.</summary>
    private static string EncodingOf(ReadOnlySpan<byte> value)
    {
        if (value.Length is > 0 and <= 20 && RespParser.TryParseLong(value, out var n)
            && n.ToString(CultureInfo.InvariantCulture).Length == value.Length)
        {
            return "int";
        }

        return value.Length <= 44 ? "embstr" : "raw";
    }

    private void FunctionCommand(in CommandArgs a)
    {
        if (a.Is(1, "FLUSH"u8) && a.Count <= 3)
        {
            if (a.Count == 3 && !a.Is(2, "SYNC"u8) && !a.Is(2, "ASYNC"u8))
            {
                _out.Error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
                return;
            }

            // There are no functions: flushing them is done at once.
            _out.Ok();
        }
        else if (a.Is(1, "LIST"u8))
        {
            _out.ArrayHeader(0);
        }
        else if (a.Is(1, "STATS"u8) && a.Count == 2)
        {
            _out.MapHeader(2);
            _out.Bulk("running_script");
            _out.Null();
            _out.Bulk("engines");
            _out.MapHeader(0);
        }
        else if (a.Is(1, "DELETE"u8) || a.Is(1, "DUMP"u8) || a.Is(1, "KILL"u8) || a.Is(1, "LOAD"u8) || a.Is(1, "RESTORE"u8) || a.Is(1, "FLUSH"u8) || a.Is(1, "STATS"u8) || a.Is(1, "HELP"u8))
        {
            _out.Error("ERR this server has no scripting engine: FUNCTION supports FLUSH, LIST and STATS only");
        }
        else
        {
            UnknownSubcommand(a, "FUNCTION");
        }
    }

    /// <summary>CLIENT KILL, REPLY and NO-EVICT. False when the subcommand is another one.</summary>
    private bool ClientCommandMore(in CommandArgs a)
    {
        if (ClientPauseCommand(a))
        {
            return true;
        }

        if (a.Is(1, "REPLY"u8) && a.Count == 3)
        {
            if (a.Is(2, "ON"u8))
            {
                _repliesOff = false;
                if (_redirected)
                {
                    EndReply();
                }

                _out.Ok();
            }
            else if (a.Is(2, "OFF"u8))
            {
                _repliesOff = true;
            }
            else if (a.Is(2, "SKIP"u8))
            {
                _skipNextReply = !_repliesOff;
            }
            else
            {
                _out.Error(SyntaxError);
            }

            return true;
        }

        if (a.Is(1, "NO-EVICT"u8) && a.Count == 3)
        {
            if (!a.Is(2, "ON"u8) && !a.Is(2, "OFF"u8))
            {
                _out.Error(SyntaxError);
                return true;
            }

            _client.NoEvict = a.Is(2, "ON"u8);
            _out.Ok();
            return true;
        }

        if (a.Is(1, "KILL"u8))
        {
            if (a.Count < 3)
            {
                WrongArity("client|kill");
            }
            else
            {
                ClientKill(a);
            }

            return true;
        }

        return false;
    }

    private void ClientKill(in CommandArgs a)
    {
        if (a.Count == 3)
        {
            // The old form: CLIENT KILL addr:port.
            var address = a.Text(2);
            var target = _server.Clients.Values.FirstOrDefault(c => c.Address == address);
            if (target is null)
            {
                _out.Error("ERR No such client");
                return;
            }

            _out.Ok();
            KillClient(target);
            return;
        }

        long? id = null;
        string? addr = null, laddr = null, user = null, type = null;
        var skipMe = true;
        for (var i = 2; i < a.Count; i += 2)
        {
            if (i + 1 >= a.Count)
            {
                _out.Error(SyntaxError);
                return;
            }

            var value = a.Text(i + 1);
            if (a.Is(i, "ID"u8))
            {
                if (!TryLong(a[i + 1], out var parsed) || parsed <= 0)
                {
                    _out.Error("ERR client-id should be greater than 0");
                    return;
                }

                id = parsed;
            }
            else if (a.Is(i, "ADDR"u8))
            {
                addr = value;
            }
            else if (a.Is(i, "LADDR"u8))
            {
                laddr = value;
            }
            else if (a.Is(i, "USER"u8))
            {
                if (value != "default")
                {
                    _out.Error($"ERR No such user '{value}'");
                    return;
                }

                user = value;
            }
            else if (a.Is(i, "TYPE"u8))
            {
                type = value.ToLowerInvariant();
                if (type is not ("normal" or "master" or "replica" or "slave" or "pubsub"))
                {
                    _out.Error($"ERR Unknown client type '{value}'");
                    return;
                }
            }
            else if (a.Is(i, "SKIPME"u8))
            {
                if (a.Is(i + 1, "YES"u8))
                {
                    skipMe = true;
                }
                else if (a.Is(i + 1, "NO"u8))
                {
                    skipMe = false;
                }
                else
                {
                    _out.Error(SyntaxError);
                    return;
                }
            }
            else
            {
                _out.Error(SyntaxError);
                return;
            }
        }

        var victims = _server.Clients.Values.Where(c =>
            (id is null || c.Id == id)
            && (addr is null || c.Address == addr)
            && (laddr is null || c.Local?.ToString() == laddr)
            && (user is null || user == "default")
            && (type is null || type == "normal")
            && !(skipMe && c == _client)).ToList();
        _out.IntegerValue(victims.Count);
        foreach (var victim in victims)
        {
            KillClient(victim);
        }
    }

    private void KillClient(ClientInfo target)
    {
        if (target == _client)
        {
            // Redis closes the caller once its reply is out.
            CloseRequested = true;
            return;
        }

        target.Killed = true;
        target.Kill?.Invoke();

        // A killed client's command held by CLIENT PAUSE must not wait for the pause to end.
        _server.Pause.Nudge();
    }

    /// <summary>RESET's part here: out of MULTI, no key watched, replies on, no longer a monitor.</summary>
    private void ResetState()
    {
        EndTransaction();
        _repliesOff = false;
        _skipNextReply = false;
        EndReply();
        ClusterAware = false;
        if (_monitor is not null)
        {
            StopMonitor();
            _monitor = null;
            _client.Monitoring = false;
        }
    }

    /// <summary>COMMAND LIST [FILTERBY PATTERN p | ACLCAT c | MODULE m].</summary>
    private void CommandList(in CommandArgs a)
    {
        IEnumerable<CommandDef> commands = CommandTable.All;
        if (a.Count == 5 && a.Is(2, "FILTERBY"u8))
        {
            var filter = a[4].ToArray();
            if (a.Is(3, "PATTERN"u8))
            {
                commands = commands.Where(c => GlobPattern.IsMatch(filter, Encoding.ASCII.GetBytes(c.Name), ignoreCase: true)).ToList();
            }
            else if (a.Is(3, "MODULE"u8))
            {
                commands = [];
            }
            else if (a.Is(3, "ACLCAT"u8))
            {
                var category = Encoding.ASCII.GetString(filter).ToLowerInvariant();
                commands = commands.Where(c => c.Group == category || c.Flags.Contains(category)).ToList();
            }
            else
            {
                _out.Error(SyntaxError);
                return;
            }
        }
        else if (a.Count != 2)
        {
            _out.Error(SyntaxError);
            return;
        }

        var list = commands.ToList();
        _out.ArrayHeader(list.Count);
        foreach (var command in list)
        {
            _out.Bulk(command.Name);
        }
    }

    /// <summary>COMMAND GETKEYS and GETKEYSANDFLAGS: where a command's keys are, by the same rule that routes it on a mesh.</summary>
    private void CommandGetKeys(in CommandArgs a)
    {
        if (a.Count < 3)
        {
            WrongArity("command|" + a.Text(1).ToLowerInvariant());
            return;
        }

        var withFlags = a.Is(1, "GETKEYSANDFLAGS"u8);
        var ranges = new ArgRange[a.Count - 2];
        for (var i = 2; i < a.Count; i++)
        {
            var r = a.RangeOf(i);
            ranges[i - 2] = new ArgRange(r.Start.Value, r.End.Value - r.Start.Value);
        }

        var inner = new CommandArgs(a.Source, ranges);
        if (!CommandTable.TryLookup(inner[0], out var command))
        {
            _out.Error("ERR Invalid command specified");
            return;
        }

        if (!command.ArityOk(inner.Count))
        {
            _out.Error("ERR Invalid number of arguments specified for command");
            return;
        }

        if (!KeyPositions(inner, command, out var first, out var last, out var step))
        {
            _out.Error("ERR The command has no key arguments");
            return;
        }

        var keys = new List<int>();
        for (var i = first; i <= last; i += step)
        {
            keys.Add(i);
        }

        var writes = command.Flags.Contains("write");
        _out.ArrayHeader(keys.Count);
        foreach (var i in keys)
        {
            if (!withFlags)
            {
                _out.Bulk(inner[i]);
                continue;
            }

            _out.ArrayHeader(2);
            _out.Bulk(inner[i]);
            var flags = writes ? (command.Id == CommandId.Del || command.Id == CommandId.Unlink ? new[] { "RM", "delete" } : ["OW", "update"]) : ["RO", "access"];
            _out.SetHeader(flags.Length);
            foreach (var flag in flags)
            {
                _out.SimpleString(flag);
            }
        }
    }

    /// <summary>One CLIENT LIST line with Redis 7's fields. <paramref name="argvBytes"/>: the arguments of the command running now (the caller's).</summary>
    private string Describe(ClientInfo client, long argvBytes)
    {
        var now = _store.NowUnixMs;
        var flags = new StringBuilder();
        if (client.Multi >= 0)
        {
            flags.Append('x');
        }

        if (client.Monitoring)
        {
            flags.Append('O');
        }

        if (client.NoEvict)
        {
            flags.Append('e');
        }

        if (client.Blocked)
        {
            flags.Append('b');
        }

        if (flags.Length == 0)
        {
            flags.Append('N');
        }

        var pending = client.PendingOutput?.Invoke() ?? 0;
        var qbuf = client.QueryBufferBytes;
        var qbufFree = client.QueryBufferFree;
        var multiBytes = client.Multi >= 0 ? client.MultiBytes : 0;

        // The buffers a connection holds at the least: one pipe segment each way.
        const int SegmentBytes = 4096;
        var total = qbuf + qbufFree + argvBytes + pending + multiBytes + (2 * SegmentBytes);
        return string.Create(CultureInfo.InvariantCulture,
            $"id={client.Id} addr={client.Address} laddr={client.Local} fd={client.Fd} name={client.Name} age={(now - client.ConnectedAtMs) / 1000} idle={(now - client.LastInteractionMs) / 1000} flags={flags} db=0 sub=0 psub=0 ssub=0 multi={client.Multi} qbuf={qbuf} qbuf-free={qbufFree} argv-mem={argvBytes} multi-mem={multiBytes} rbs={SegmentBytes} rbp={SegmentBytes} obl={pending} oll=0 omem=0 tot-mem={total} events={(pending > 0 ? "rw" : "r")} cmd={client.LastCommand} user=default redir=-1 resp={client.Protocol} lib-name={client.LibName} lib-ver={client.LibVersion}");
    }

    private static long ArgBytes(in CommandArgs a)
    {
        long total = 0;
        for (var i = 0; i < a.Count; i++)
        {
            total += a[i].Length;
        }

        return total;
    }
}
