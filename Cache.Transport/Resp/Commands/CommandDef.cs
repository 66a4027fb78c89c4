using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

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

    /// <summary>True for MULTI, EXEC, DISCARD, WATCH, QUIT and RESET: inside a transaction they run at once instead of being queued.</summary>
    public bool RunsInMulti => Id is CommandId.Multi or CommandId.Exec or CommandId.Discard or CommandId.Watch or CommandId.Quit or CommandId.Reset;

    /// <summary>True for containers (CLIENT, CONFIG, ...): CLIENT LIST reports the subcommand too (<c>client|list</c>).</summary>
    public bool HasSubcommands => Id is CommandId.Client or CommandId.Config or CommandId.Command or CommandId.Cluster or CommandId.Memory
        or CommandId.Object or CommandId.SlowLog or CommandId.Latency or CommandId.Function;

    /// <summary>True for commands flagged fast: their latency events are <c>fast-command</c>, the others' <c>command</c>.</summary>
    public bool IsFast { get; } = Flags.Contains("fast");

    /// <summary>True for commands that write: CLIENT PAUSE WRITE holds them.</summary>
    public bool IsWrite { get; } = Flags.Contains("write");

    /// <summary>True for commands that may grow the store (Redis's denyoom): refused while the store is full.</summary>
    public bool DenyOom { get; } = Flags.Contains("denyoom");

    /// <summary>True for administrative commands, which MONITOR does not show.</summary>
    public bool IsAdmin => Flags.Contains("admin");

    /// <summary>True when the argument count is acceptable.</summary>
    public bool ArityOk(int count) => Arity >= 0 ? count == Arity : count >= -Arity;
}
