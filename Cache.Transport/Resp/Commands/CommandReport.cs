using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>Writes COMMAND's replies: each command's metadata (COMMAND INFO) and documentation (COMMAND DOCS). Stateless; thread-safe.</summary>
internal static class CommandReport
{
    /// <summary>One command as COMMAND INFO describes it: name, arity, flags, key positions, and the empty ACL, tips, key-spec and subcommand lists.</summary>
    public static void WriteInfo(RespWriter output, CommandDef command)
    {
        output.ArrayHeader(10);
        output.Bulk(command.Name);
        output.IntegerValue(command.Arity);
        output.SetHeader(command.Flags.Length);
        foreach (var flag in command.Flags)
        {
            output.SimpleString(flag);
        }

        output.IntegerValue(command.FirstKey);
        output.IntegerValue(command.LastKey);
        output.IntegerValue(command.Step);
        output.SetHeader(0);
        output.SetHeader(0);
        output.ArrayHeader(0);
        output.ArrayHeader(0);
    }

    /// <summary>COMMAND DOCS for <paramref name="commands"/>: a map from each name to its summary, version and group.</summary>
    public static void WriteDocs(RespWriter output, IReadOnlyList<CommandDef> commands)
    {
        output.MapHeader(commands.Count);
        foreach (var command in commands)
        {
            output.Bulk(command.Name);
            output.MapHeader(3);
            output.Bulk("summary");
            output.Bulk(command.Summary);
            output.Bulk("since");
            output.Bulk(command.Since);
            output.Bulk("group");
            output.Bulk(command.Group);
        }
    }
}
