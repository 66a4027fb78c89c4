using System.Globalization;
using System.Text.Json;

namespace Perf;

/// <summary>One row of a scenario's result: ordered field names and values, printed as a table and written as JSON.</summary>
internal sealed class Row : List<KeyValuePair<string, object>>
{
    public Row Add(string name, object value)
    {
        Add(new KeyValuePair<string, object>(name, value));
        return this;
    }
}

/// <summary>The result of a scenario: its name, rows, and lines of summary (ratios, verdicts).</summary>
internal sealed record ScenarioResult(string Scenario, IReadOnlyList<Row> Rows, IReadOnlyList<string> Summary);

internal static class Harness
{
    public static void Progress(string scenario, string message) =>
        Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {scenario}: {message}");

    /// <summary>
    /// How fast this machine gives the store memory it has not touched before, in GB/s: a store's
    /// <see cref="Cache.Engine.BlockStore.Preallocate"/> of 64 MB (new chunks, every page written), timed. On this project's
    /// machines (virtual machines whose host backs guest memory on first touch and takes back what the guest frees) fresh
    /// memory measured 0.3-1.7 GB/s, against 9-10 GB/s for memory touched again at once: a cache that fills pays that for
    /// every byte it adds, unless it committed the memory beforehand.
    /// </summary>
    public static double FreshMemoryGBps()
    {
        const long bytes = 64L << 20;
        using var store = new Cache.Engine.BlockStore(new Cache.Engine.BlockStoreOptions { Capacity = bytes, ExpirationSweepInterval = TimeSpan.Zero });
        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        var committed = store.Preallocate(bytes);
        return committed / 1e9 / System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    public static string Format(object value) => value switch
    {
        double d when double.IsNaN(d) => "-",
        double d when Math.Abs(d) >= 1000 => d.ToString("N0", CultureInfo.InvariantCulture),
        double d when Math.Abs(d) >= 10 => d.ToString("F1", CultureInfo.InvariantCulture),
        double d => d.ToString("F3", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    public static void Print(ScenarioResult result)
    {
        Console.WriteLine();
        Console.WriteLine($"## {result.Scenario}");
        if (result.Rows.Count > 0)
        {
            var headers = result.Rows[0].Select(kv => kv.Key).ToArray();
            var cells = result.Rows.Select(r => r.Select(kv => Format(kv.Value)).ToArray()).ToArray();
            var widths = headers.Select((h, i) => Math.Max(h.Length, cells.Max(c => c[i].Length))).ToArray();
            Console.WriteLine("| " + string.Join(" | ", headers.Select((h, i) => h.PadRight(widths[i]))) + " |");
            Console.WriteLine("|" + string.Join("|", widths.Select(w => new string('-', w + 2))) + "|");
            foreach (var c in cells)
            {
                Console.WriteLine("| " + string.Join(" | ", c.Select((v, i) => v.PadLeft(widths[i]))) + " |");
            }
        }

        foreach (var line in result.Summary)
        {
            Console.WriteLine(line);
        }
    }

    public static void WriteJson(string path, IReadOnlyList<ScenarioResult> results)
    {
        var options = new JsonWriterOptions { Indented = true };
        using var stream = File.Create(path);
        using var writer = new Utf8JsonWriter(stream, options);
        if (results.Count > 1)
        {
            writer.WriteStartArray();
        }

        foreach (var result in results)
        {
            writer.WriteStartObject();
            writer.WriteString("scenario", result.Scenario);
            writer.WriteStartArray("rows");
            foreach (var row in result.Rows)
            {
                writer.WriteStartObject();
                foreach (var (name, value) in row)
                {
                    switch (value)
                    {
                        case double d when double.IsNaN(d):
                            writer.WriteNull(name);
                            break;
                        case double d:
                            writer.WriteNumber(name, Math.Round(d, 6));
                            break;
                        case int i:
                            writer.WriteNumber(name, i);
                            break;
                        case long l:
                            writer.WriteNumber(name, l);
                            break;
                        default:
                            writer.WriteString(name, Convert.ToString(value, CultureInfo.InvariantCulture));
                            break;
                    }
                }

                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteStartArray("summary");
            foreach (var line in result.Summary)
            {
                writer.WriteStringValue(line);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        if (results.Count > 1)
        {
            writer.WriteEndArray();
        }
    }
}
