using System.Collections.Frozen;
using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

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
        new(CommandId.Config, "config", -2, ["admin", "noscript", "loading", "stale"], 0, 0, 0, "server", "A container for server configuration commands.", "2.0.0"),
        new(CommandId.Memory, "memory", -2, ["readonly"], 0, 0, 0, "server", "A container for memory diagnostics commands.", "4.0.0"),
        new(CommandId.Cluster, "cluster", -2, ["loading", "stale"], 0, 0, 0, "cluster", "A container for Redis Cluster commands.", "3.0.0"),
        new(CommandId.Multi, "multi", 1, ["noscript", "loading", "stale", "fast", "allow_busy"], 0, 0, 0, "transactions", "Starts a transaction.", "1.2.0"),
        new(CommandId.Exec, "exec", 1, ["noscript", "loading", "stale", "skip_slowlog"], 0, 0, 0, "transactions", "Executes all commands in a transaction.", "1.2.0"),
        new(CommandId.Discard, "discard", 1, ["noscript", "loading", "stale", "fast", "allow_busy"], 0, 0, 0, "transactions", "Discards a transaction.", "2.0.0"),
        new(CommandId.Watch, "watch", -2, ["noscript", "loading", "stale", "fast", "allow_busy"], 1, -1, 1, "transactions", "Monitors changes to keys to determine the execution of a transaction.", "2.2.0"),
        new(CommandId.Unwatch, "unwatch", 1, ["noscript", "loading", "stale", "fast", "allow_busy"], 0, 0, 0, "transactions", "Forgets about watched keys of a transaction.", "2.2.0"),
        new(CommandId.Monitor, "monitor", 1, ["admin", "noscript", "loading", "stale"], 0, 0, 0, "server", "Listens for all requests received by the server in real-time.", "1.0.0"),
        new(CommandId.SlowLog, "slowlog", -2, ["admin", "loading", "stale"], 0, 0, 0, "server", "A container for slow log commands.", "2.2.12"),
        new(CommandId.Latency, "latency", -2, ["admin", "noscript", "loading", "stale"], 0, 0, 0, "server", "A container for latency diagnostics commands.", "2.8.13"),
        new(CommandId.Object, "object", -2, [], 0, 0, 0, "generic", "A container for object introspection commands.", "2.2.3"),
        new(CommandId.Touch, "touch", -2, Read, 1, -1, 1, "generic", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", "3.2.1"),
        new(CommandId.GetSet, "getset", 3, WriteFast, 1, 1, 1, "string", "Returns the previous string value of a key after setting it to a new value.", "1.0.0"),
        new(CommandId.SetRange, "setrange", 4, Write, 1, 1, 1, "string", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", "2.2.0"),
        new(CommandId.GetBit, "getbit", 3, Read, 1, 1, 1, "bitmap", "Returns a bit value by offset.", "2.2.0"),
        new(CommandId.SetBit, "setbit", 4, Write, 1, 1, 1, "bitmap", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.", "2.2.0"),
        new(CommandId.BitCount, "bitcount", -2, ["readonly"], 1, 1, 1, "bitmap", "Counts the number of set bits (population counting) in a string.", "2.6.0"),
        new(CommandId.IncrByFloat, "incrbyfloat", 3, WriteFast, 1, 1, 1, "string", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "2.6.0"),
        new(CommandId.Lcs, "lcs", -3, ["readonly"], 1, 2, 1, "string", "Finds the longest common substring.", "7.0.0"),
        new(CommandId.Rename, "rename", 3, ["write"], 1, 2, 1, "generic", "Renames a key and overwrites the destination.", "1.0.0"),
        new(CommandId.RenameNx, "renamenx", 3, WriteOnly, 1, 2, 1, "generic", "Renames a key only when the target key name doesn't exist.", "1.0.0"),
        new(CommandId.Copy, "copy", -3, Write, 1, 2, 1, "generic", "Copies the value of a key to a new key.", "6.2.0"),
        new(CommandId.ExpireTime, "expiretime", 2, Read, 1, 1, 1, "generic", "Returns the expiration time of a key as a Unix timestamp.", "7.0.0"),
        new(CommandId.PExpireTime, "pexpiretime", 2, Read, 1, 1, 1, "generic", "Returns the expiration time of a key as a Unix milliseconds timestamp.", "7.0.0"),
        new(CommandId.Substr, "substr", 4, ["readonly"], 1, 1, 1, "string", "Returns a substring from a string value.", "1.0.0"),
        new(CommandId.Function, "function", -2, [], 0, 0, 0, "scripting", "A container for function commands (this server has no functions).", "7.0.0"),
        new(CommandId.ReadOnly, "readonly", 1, ["loading", "stale", "fast"], 0, 0, 0, "cluster", "Enables read-only queries for a connection to a Redis Cluster replica node.", "3.0.0"),
        new(CommandId.ReadWrite, "readwrite", 1, ["loading", "stale", "fast"], 0, 0, 0, "cluster", "Enables read-write queries for a connection to a Reids Cluster replica node.", "3.0.0"),
        new(CommandId.Lolwut, "lolwut", -1, ["readonly", "fast"], 0, 0, 0, "server", "Displays computer art and the server version", "5.0.0"),
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
