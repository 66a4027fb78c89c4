using System.Globalization;

namespace Cache.Dataset;

/// <summary>The job layout a launcher such as torchrun puts in the environment.</summary>
internal readonly record struct LaunchEnvironment(int WorldSize, int Rank, int LocalWorldSize, int NodeRank)
{
    public static LaunchEnvironment Read()
    {
        var rank = ReadInt("RANK", 0, minimum: 0);
        var localWorldSize = ReadInt("LOCAL_WORLD_SIZE", 1, minimum: 1);

        // torchrun names the node's index GROUP_RANK; without it, ranks are numbered node by node.
        var nodeRank = ReadInt("GROUP_RANK", rank / localWorldSize, minimum: 0);
        return new(ReadInt("WORLD_SIZE", 1, minimum: 1), rank, localWorldSize, nodeRank);
    }

    private static int ReadInt(string name, int fallback, int minimum)
    {
        var text = Environment.GetEnvironmentVariable(name);
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }

        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < minimum)
        {
            throw new InvalidOperationException($"The environment variable {name}='{text}' is not an integer of at least {minimum}.");
        }

        return value;
    }
}
