using System.Globalization;

namespace Cache.Transport.Mesh;

/// <summary>
/// The job's layout as a launcher such as torchrun puts it in the environment: <c>WORLD_SIZE</c>, <c>RANK</c>,
/// <c>LOCAL_RANK</c>, <c>LOCAL_WORLD_SIZE</c> and <c>GROUP_RANK</c> (the node's index). The one parser of these
/// variables: the mesh, the datasets' capacity split and the distributed sampler all read them here. Immutable.
/// </summary>
/// <param name="WorldSize">Processes in the job (1 without a launcher).</param>
/// <param name="Rank">This process's rank (0 without a launcher).</param>
/// <param name="LocalRank">This process's rank on its machine.</param>
/// <param name="LocalWorldSize">Processes on this machine.</param>
/// <param name="NodeRank">This machine's index in the job.</param>
public sealed record LaunchEnvironment(int WorldSize, int Rank, int LocalRank, int LocalWorldSize, int NodeRank)
{
    /// <summary>
    /// Reads the layout from <paramref name="variables"/> (the process environment when null); a missing variable
    /// takes its single-process value. Throws <see cref="InvalidOperationException"/> naming a variable that is not an
    /// integer in range.
    /// </summary>
    public static LaunchEnvironment Read(IReadOnlyDictionary<string, string?>? variables = null)
    {
        var worldSize = ReadInt(variables, "WORLD_SIZE", 1, 1, 1 << 20);
        var rank = ReadInt(variables, "RANK", 0, 0, worldSize - 1);
        var localWorldSize = ReadInt(variables, "LOCAL_WORLD_SIZE", 1, 1, 1 << 16);
        var localRank = ReadInt(variables, "LOCAL_RANK", 0, 0, 1 << 16);

        // torchrun names the node's index GROUP_RANK; without it, ranks are numbered node by node.
        var nodeRank = ReadInt(variables, "GROUP_RANK", rank / localWorldSize, 0, 1 << 20);
        return new LaunchEnvironment(worldSize, rank, localRank, localWorldSize, nodeRank);
    }

    /// <summary>The variable's value, or null when unset.</summary>
    internal static string? Get(IReadOnlyDictionary<string, string?>? variables, string name) =>
        variables is null ? Environment.GetEnvironmentVariable(name) : variables.GetValueOrDefault(name);

    /// <summary>An integer variable in [<paramref name="min"/>, <paramref name="max"/>]; <paramref name="fallback"/> when unset (null: required).</summary>
    internal static int ReadInt(IReadOnlyDictionary<string, string?>? variables, string name, int? fallback, int min, int max)
    {
        var text = Get(variables, name);
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback ?? throw new InvalidOperationException($"The cache mesh needs the environment variable {name}.");
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new InvalidOperationException($"The environment variable {name}='{text}' must be an integer from {min} to {max}.");
    }
}
