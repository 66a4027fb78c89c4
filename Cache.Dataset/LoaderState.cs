using System.Globalization;
using System.Text.Json;

namespace Cache.Dataset;

/// <summary>
/// Where a <see cref="CachedDataLoader{T}"/> stands: the epoch, the next batch it will yield, and what that
/// position means (the sampler's seed and the job's world size). A loader created from it yields exactly the
/// batches that were still to come, in the same order. Immutable; serializes to a short JSON text.
/// </summary>
/// <param name="Epoch">The sampler's epoch.</param>
/// <param name="NextBatch">The index, within the epoch, of the next batch to be yielded.</param>
/// <param name="Seed">The sampler's seed.</param>
/// <param name="WorldSize">The number of ranks (the sampler's <see cref="DistributedSampler.NumReplicas"/>).</param>
public sealed record LoaderState(int Epoch, long NextBatch, long Seed, int WorldSize)
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>The state as JSON, e.g. <c>{"epoch":3,"nextBatch":17,"seed":0,"worldSize":4}</c>.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a state written by <see cref="ToJson"/>. Throws <see cref="FormatException"/> on anything else.</summary>
    public static LoaderState FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        LoaderState? state;
        try
        {
            state = JsonSerializer.Deserialize<LoaderState>(json, Json);
        }
        catch (JsonException ex)
        {
            throw new FormatException($"Not a loader state: {ex.Message}", ex);
        }

        if (state is null || state.Epoch < 0 || state.NextBatch < 0 || state.WorldSize < 1)
        {
            throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"Not a loader state (epoch >= 0, nextBatch >= 0, worldSize >= 1): {json}"));
        }

        return state;
    }
}
