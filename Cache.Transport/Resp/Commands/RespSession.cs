using System.Text;
using Cache.Engine;
using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>
/// Executes the commands of one client against the node's store and writes the replies, with Redis 7's
/// semantics and reply texts. Knows nothing of sockets, so that tests drive it over in-memory pipes.
/// Not thread-safe: one per connection.
/// </summary>
internal sealed partial class RespSession
{
    private const string NotInteger = "ERR value is not an integer or out of range";
    private const string SyntaxError = "ERR syntax error";
    private const string OutOfMemory = "OOM command not allowed when used memory > 'maxmemory'.";

    private readonly ServerContext _server;
    private readonly BlockStore _store;
    private readonly RespWriter _out;
    private readonly ClientInfo _client;

    /// <summary>False for the session that runs commands forwarded to this node as their keys' owner: it executes every key here.</summary>
    private readonly bool _routes;

    /// <summary>
    /// Creates a client's session. With <paramref name="owner"/>, the session runs commands other members
    /// forwarded: it is authenticated (the sender proved the mesh's secret) and never forwards again.
    /// </summary>
    public RespSession(ServerContext server, RespWriter writer, ClientInfo client, bool owner = false)
    {
        _server = server;
        _store = server.Store;
        _out = writer;
        _client = client;
        _routes = !owner;
        Authenticated = owner || server.RequirePass is null;
    }

    /// <summary>False until a password-protected client authenticates.</summary>
    public bool Authenticated { get; private set; }

    /// <summary>Set by QUIT: close once the reply is sent.</summary>
    public bool CloseRequested { get; private set; }

    public ClientInfo Client => _client;

    /// <summary>Runs one command and writes its reply.</summary>
    public void Execute(in CommandArgs a) => Execute(a, held: false);

    /// <summary>Runs one command; <paramref name="held"/> when CLIENT PAUSE held it and it runs now (it was counted when it arrived).</summary>
    private void Execute(in CommandArgs a, bool held)
    {
        if (!held)
        {
            _server.CommandsProcessed.Increment();
        }

        if (!CommandTable.TryLookup(a[0], out var command))
        {
            FlagTransaction();
            UnknownCommand(a);
            return;
        }

        if (!command.ArityOk(a.Count))
        {
            Refuse(command);
            if (command.Id == CommandId.Exec)
            {
                // Redis: an EXEC refused before it runs discards the transaction, and says so.
                EndTransaction();
                _out.Error($"EXECABORT Transaction discarded because of: wrong number of arguments for '{command.Name}' command");
                return;
            }

            WrongArity(command.Name);
            return;
        }

        if (!Authenticated && !command.NoAuth)
        {
            Refuse(command);
            _out.Error("NOAUTH Authentication required.");
            return;
        }

        if (_routes && !_inExec && _server.Pause.Holds(command.IsWrite || (command.Id == CommandId.Exec && _queuedWrite)))
        {
            // CLIENT PAUSE: the command waits (it is not refused) and runs once the pause ends.
            Hold(a);
            return;
        }

        _client.LastCommand = command.HasSubcommands && a.Count > 1 ? command.Name + "|" + Shown(a[1]).ToLowerInvariant() : command.Name;
        if (_queued is not null && !command.RunsInMulti && !_inExec)
        {
            Queue(a, command);
            return;
        }

        var started = _server.Time.GetTimestamp();
        var errors = _out.Errors;
        BeginReply();
        // WATCH stays here: it records versions in this session, whoever owns the keys.
        if (!(_routes && !_inExec && command.Id != CommandId.Watch && _server.Host.Router is { } mesh && (TryRoute(a, command, mesh) || TryMeshWide(a, command, mesh))))
        {
            Dispatch(a, command);
        }

        EndReply();
        var ticks = _server.Time.GetTimestamp() - started;
        _server.Stats.Record(command.Id, ticks, _out.Errors != errors);
        Observe(a, command, ticks);
    }

    /// <summary>A known command refused before it ran: counted as rejected, and a transaction being queued fails.</summary>
    private void Refuse(CommandDef command)
    {
        _server.Stats.Rejected(command.Id);
        FlagTransaction();
    }

    private void Dispatch(in CommandArgs a, CommandDef command)
    {
        switch (command.Id)
        {
            case CommandId.Get: Get(a); break;
            case CommandId.Set: Set(a); break;
            case CommandId.Ping: Ping(a); break;
            case CommandId.Echo: _out.Bulk(a[1]); break;
            case CommandId.Hello: Hello(a); break;
            case CommandId.Auth: Auth(a); break;
            case CommandId.Select: Select(a); break;
            case CommandId.Quit: _out.Ok(); CloseRequested = true; break;
            case CommandId.Reset: Reset(); break;
            case CommandId.Client: ClientCommand(a); break;
            case CommandId.SetNx: SetNx(a); break;
            case CommandId.SetEx: SetEx(a, 1000, "setex"); break;
            case CommandId.PSetEx: SetEx(a, 1, "psetex"); break;
            case CommandId.GetDel: GetDel(a); break;
            case CommandId.GetEx: GetEx(a); break;
            case CommandId.MGet: MGet(a); break;
            case CommandId.MSet: MSet(a, onlyIfNoneExist: false); break;
            case CommandId.MSetNx: MSet(a, onlyIfNoneExist: true); break;
            case CommandId.Del: Del(a); break;
            case CommandId.Unlink: Del(a); break;
            case CommandId.Exists: Exists(a); break;
            case CommandId.StrLen: StrLen(a); break;
            case CommandId.GetRange: GetRange(a); break;
            case CommandId.Append: Append(a); break;
            case CommandId.Incr: IncrBy(a[1], 1); break;
            case CommandId.Decr: IncrBy(a[1], -1); break;
            case CommandId.IncrBy: IncrBy(a, negate: false); break;
            case CommandId.DecrBy: IncrBy(a, negate: true); break;
            case CommandId.Expire: Expire(a, 1000, relative: true, "expire"); break;
            case CommandId.PExpire: Expire(a, 1, relative: true, "pexpire"); break;
            case CommandId.ExpireAt: Expire(a, 1000, relative: false, "expireat"); break;
            case CommandId.PExpireAt: Expire(a, 1, relative: false, "pexpireat"); break;
            case CommandId.Ttl: Ttl(a, 1000); break;
            case CommandId.PTtl: Ttl(a, 1); break;
            case CommandId.Persist: _out.IntegerValue(_store.Persist(a[1]) ? 1 : 0); break;
            case CommandId.Type: _out.SimpleString(_store.ContainsKey(a[1]) ? "string"u8 : "none"u8); break;
            case CommandId.Keys: Keys(a); break;
            case CommandId.Scan: Scan(a); break;
            case CommandId.DbSize: _out.IntegerValue(_store.Count); break;
            case CommandId.FlushDb: Flush(a); break;
            case CommandId.FlushAll: Flush(a); break;
            case CommandId.RandomKey: RandomKey(); break;
            case CommandId.Time: Time(); break;
            case CommandId.Info: Info(a); break;
            case CommandId.Command: Command(a); break;
            case CommandId.Config: Config(a); break;
            case CommandId.Memory: Memory(a); break;
            case CommandId.Cluster: ClusterCommand(a); break;
            default: DispatchMore(a, command); break;
        }
    }

    private void WrongArity(string name) => _out.Error($"ERR wrong number of arguments for '{name}' command");

    private void UnknownCommand(in CommandArgs a)
    {
        var text = new StringBuilder("ERR unknown command '").Append(Shown(a[0])).Append("', with args beginning with: ");
        for (var i = 1; i < a.Count && text.Length < 128 + 60; i++)
        {
            text.Append('\'').Append(Shown(a[i])).Append("' ");
        }

        _out.Error(text.ToString());
    }

    private void UnknownSubcommand(in CommandArgs a, string container) =>
        _out.Error($"ERR unknown subcommand '{Shown(a[1])}'. Try {container} HELP.");

    /// <summary>An argument as text for an error message: at most 128 bytes are decoded, however long it is.</summary>
    private static string Shown(ReadOnlySpan<byte> arg) => Encoding.UTF8.GetString(arg[..Math.Min(arg.Length, 128)]);

    /// <summary>True once the replies waiting for this client pass its output limit: the command stops and the connection closes without sending them.</summary>
    private bool OutputOverLimit()
    {
        var pending = _out.Output switch
        {
            System.IO.Pipelines.PipeWriter { CanGetUnflushedBytes: true } pipe => pipe.UnflushedBytes,
            System.Buffers.ArrayBufferWriter<byte> buffer => buffer.WrittenCount,
            _ => 0,
        };

        // A forwarded reply travels in one peer frame, so it is held to a frame's size as well.
        var limit = _routes ? _server.Options.MaxOutputBuffer : Math.Min(_server.Options.MaxOutputBuffer, 512L * 1024 * 1024);
        if (pending > limit)
        {
            OutputOverflowed = true;
            CloseRequested = true;
            return true;
        }

        return false;
    }

    /// <summary>Set when a reply passed the client's output limit: the connection must close without sending what is buffered.</summary>
    public bool OutputOverflowed { get; private set; }

    private static bool TryLong(ReadOnlySpan<byte> text, out long value) => RespParser.TryParseLong(text, out value);
}
