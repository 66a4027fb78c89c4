using System.Collections.Frozen;
using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>The commands the RESP server knows.</summary>
internal enum CommandId
{
    Ping, Echo, Hello, Auth, Select, Quit, Reset, Client,
    Get, Set, SetNx, SetEx, PSetEx, GetDel, GetEx, MGet, MSet, MSetNx, Del, Unlink, Exists, StrLen, GetRange, Append,
    Incr, Decr, IncrBy, DecrBy, Expire, PExpire, ExpireAt, PExpireAt, Ttl, PTtl, Persist, Type, Keys, Scan,
    DbSize, FlushDb, FlushAll, RandomKey, Time, Info, Command, Config, Memory, Cluster,
}

/// <summary>A command's metadata, as COMMAND INFO reports it.</summary>
/// <param name="Id">Which command.</param>
/// <param name="Name">Lower-case name.</param>
/// <param name="Arity">Argument count including the name; negative means "at least".</param>
/// <param name="Flags">Redis's command flags.</param>
/// <param name="FirstKey">Position of the first key (0 when none).</param>
/// <param name="LastKey">Position of the last key (-1: the last argument).</param>
/// <param name="Step">Distance between keys.</param>
/// <param name="Group">Redis's command group.</param>
/// <param name="Summary">One line for COMMAND DOCS and redis-cli's help.</param>
/// <param name="Since">The Redis version that introduced the command.</param>
internal sealed record CommandDef(CommandId Id, string Name, int Arity, string[] Flags, int FirstKey, int LastKey, int Step, string Group, string Summary, string Since)
{
    /// <summary>True when the command may run before a password-protected client authenticates.</summary>
    public bool NoAuth => Flags.Contains("no-auth");

    /// <summary>True when the argument count is acceptable.</summary>
    public bool ArityOk(int count) => Arity >= 0 ? count == Arity : count >= -Arity;
}

/// <summary>Looks commands up by name, case-insensitively, without allocating. Immutable; thread-safe.</summary>
internal static class CommandTable
{
    private static readonly string[] Read = ["readonly", "fast"];
    private static readonly string[] Write = ["write", "denyoom"];
    private static readonly string[] WriteFast = ["write", "denyoom", "fast"];
    private static readonly string[] WriteOnly = ["write", "fast"];
    private static readonly string[] Conn = ["fast", "loading", "stale"];

    public static IReadOnlyList<CommandDef> All { get; } =
    [
        new(CommandId.Ping, "ping", -1, Conn, 0, 0, 0, "connection", "Returns the server's liveliness response.", "1.0.0"),
        new(CommandId.Echo, "echo", 2, Conn, 0, 0, 0, "connection", "Returns the given string.", "1.0.0"),
        new(CommandId.Hello, "hello", -1, ["noscript", "loading", "stale", "fast", "no-auth"], 0, 0, 0, "connection", "Handshakes with the server.", "6.0.0"),
        new(CommandId.Auth, "auth", -2, ["noscript", "loading", "stale", "fast", "no-auth"], 0, 0, 0, "connection", "Authenticates the connection.", "1.0.0"),
        new(CommandId.Select, "select", 2, Conn, 0, 0, 0, "connection", "Changes the selected database (only 0 exists).", "1.0.0"),
        new(CommandId.Quit, "quit", -1, ["noscript", "loading", "stale", "fast", "no-auth"], 0, 0, 0, "connection", "Closes the connection.", "1.0.0"),
        new(CommandId.Reset, "reset", 1, ["noscript", "loading", "stale", "fast", "no-auth"], 0, 0, 0, "connection", "Resets the connection.", "6.2.0"),
        new(CommandId.Client, "client", -2, ["loading", "stale"], 0, 0, 0, "connection", "A container for client connection commands.", "2.4.0"),
        new(CommandId.Get, "get", 2, Read, 1, 1, 1, "string", "Returns the string value of a key.", "1.0.0"),
        new(CommandId.Set, "set", -3, Write, 1, 1, 1, "string", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", "1.0.0"),
        new(CommandId.SetNx, "setnx", 3, WriteFast, 1, 1, 1, "string", "Set the string value of a key only when the key doesn't exist.", "1.0.0"),
        new(CommandId.SetEx, "setex", 4, Write, 1, 1, 1, "string", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", "2.0.0"),
        new(CommandId.PSetEx, "psetex", 4, Write, 1, 1, 1, "string", "Sets both string value and expiration time in milliseconds of a key.", "2.6.0"),
        new(CommandId.GetDel, "getdel", 2, WriteOnly, 1, 1, 1, "string", "Returns the string value of a key after deleting the key.", "6.2.0"),
        new(CommandId.GetEx, "getex", -2, WriteOnly, 1, 1, 1, "string", "Returns the string value of a key after setting its expiration time.", "6.2.0"),
        new(CommandId.MGet, "mget", -2, Read, 1, -1, 1, "string", "Atomically returns the string values of one or more keys.", "1.0.0"),
        new(CommandId.MSet, "mset", -3, Write, 1, -1, 2, "string", "Atomically creates or modifies the string values of one or more keys.", "1.0.1"),
        new(CommandId.MSetNx, "msetnx", -3, Write, 1, -1, 2, "string", "Atomically modifies the string values of one or more keys only when all keys don't exist.", "1.0.1"),
        new(CommandId.Del, "del", -2, ["write"], 1, -1, 1, "generic", "Deletes one or more keys.", "1.0.0"),
        new(CommandId.Unlink, "unlink", -2, WriteOnly, 1, -1, 1, "generic", "Asynchronously deletes one or more keys.", "4.0.0"),
        new(CommandId.Exists, "exists", -2, Read, 1, -1, 1, "generic", "Determines whether one or more keys exist.", "1.0.0"),
        new(CommandId.StrLen, "strlen", 2, Read, 1, 1, 1, "string", "Returns the length of a string value.", "2.2.0"),
        new(CommandId.GetRange, "getrange", 4, ["readonly"], 1, 1, 1, "string", "Returns a substring of the string stored at a key.", "2.4.0"),
        new(CommandId.Append, "append", 3, WriteFast, 1, 1, 1, "string", "Appends a string to the value of a key. Creates the key if it doesn't exist.", "2.0.0"),
        new(CommandId.Incr, "incr", 2, WriteFast, 1, 1, 1, "string", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "1.0.0"),
        new(CommandId.Decr, "decr", 2, WriteFast, 1, 1, 1, "string", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "1.0.0"),
        new(CommandId.IncrBy, "incrby", 3, WriteFast, 1, 1, 1, "string", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "1.0.0"),
        new(CommandId.DecrBy, "decrby", 3, WriteFast, 1, 1, 1, "string", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", "1.0.0"),
        new(CommandId.Expire, "expire", -3, WriteOnly, 1, 1, 1, "generic", "Sets the expiration time of a key in seconds.", "1.0.0"),
        new(CommandId.PExpire, "pexpire", -3, WriteOnly, 1, 1, 1, "generic", "Sets the expiration time of a key in milliseconds.", "2.6.0"),
        new(CommandId.ExpireAt, "expireat", -3, WriteOnly, 1, 1, 1, "generic", "Sets the expiration time of a key to a Unix timestamp.", "1.2.0"),
        new(CommandId.PExpireAt, "pexpireat", -3, WriteOnly, 1, 1, 1, "generic", "Sets the expiration time of a key to a Unix milliseconds timestamp.", "2.6.0"),
        new(CommandId.Ttl, "ttl", 2, Read, 1, 1, 1, "generic", "Returns the expiration time in seconds of a key.", "1.0.0"),
        new(CommandId.PTtl, "pttl", 2, Read, 1, 1, 1, "generic", "Returns the expiration time in milliseconds of a key.", "2.6.0"),
        new(CommandId.Persist, "persist", 2, WriteOnly, 1, 1, 1, "generic", "Removes the expiration time of a key.", "2.2.0"),
        new(CommandId.Type, "type", 2, Read, 1, 1, 1, "generic", "Determines the type of value stored at a key.", "1.0.0"),
        new(CommandId.Keys, "keys", 2, ["readonly"], 0, 0, 0, "generic", "Returns all key names that match a pattern.", "1.0.0"),
        new(CommandId.Scan, "scan", -2, ["readonly"], 0, 0, 0, "generic", "Iterates over the key names in the database.", "2.8.0"),
        new(CommandId.DbSize, "dbsize", 1, Read, 0, 0, 0, "server", "Returns the number of keys in the database.", "1.0.0"),
        new(CommandId.FlushDb, "flushdb", -1, ["write"], 0, 0, 0, "server", "Removes all keys from the current database.", "1.0.0"),
        new(CommandId.FlushAll, "flushall", -1, ["write"], 0, 0, 0, "server", "Removes all keys from all databases.", "1.0.0"),
        new(CommandId.RandomKey, "randomkey", 1, ["readonly"], 0, 0, 0, "generic", "Returns a random key name from the database.", "1.0.0"),
        new(CommandId.Time, "time", 1, Conn, 0, 0, 0, "server", "Returns the server time.", "2.6.0"),
        new(CommandId.Info, "info", -1, ["loading", "stale"], 0, 0, 0, "server", "Returns information and statistics about the server.", "1.0.0"),
        new(CommandId.Command, "command", -1, ["loading", "stale"], 0, 0, 0, "server", "Returns detailed information about all commands.", "2.8.13"),
        new(CommandId.Config, "config", -2, ["loading", "stale"], 0, 0, 0, "server", "A container for server configuration commands.", "2.0.0"),
        new(CommandId.Memory, "memory", -2, ["readonly"], 0, 0, 0, "server", "A container for memory diagnostics commands.", "4.0.0"),
        new(CommandId.Cluster, "cluster", -2, ["loading", "stale"], 0, 0, 0, "cluster", "A container for Redis Cluster commands.", "3.0.0"),
    ];

    private static readonly FrozenDictionary<(ulong, ulong), CommandDef> ByName =
        All.ToFrozenDictionary(c => Pack(System.Text.Encoding.ASCII.GetBytes(c.Name)), c => c);

    /// <summary>Finds a command by name, ignoring ASCII case.</summary>
    public static bool TryLookup(ReadOnlySpan<byte> name, out CommandDef command)
    {
        if (name.IsEmpty || name.Length > 15)
        {
            command = null!;
            return false;
        }

        return ByName.TryGetValue(Pack(name), out command!);
    }

    private static (ulong, ulong) Pack(ReadOnlySpan<byte> name)
    {
        Span<byte> buffer = stackalloc byte[16];
        buffer.Clear();
        for (var i = 0; i < name.Length; i++)
        {
            var b = name[i];
            buffer[i] = b is >= (byte)'a' and <= (byte)'z' ? (byte)(b - 32) : b;
        }

        // The length in the last byte, so that "GET\0" is not GET.
        buffer[15] = (byte)name.Length;

        return (BitConverter.ToUInt64(buffer), BitConverter.ToUInt64(buffer[8..]));
    }
}
