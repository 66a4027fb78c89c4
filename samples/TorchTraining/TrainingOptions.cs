using System.Globalization;

namespace TorchTraining;

/// <summary>The example's command line, validated once.</summary>
internal sealed record TrainingOptions(
    int Images, int ImageSize, int InputSize, int Epochs, int BatchSize, int Workers, int ReadAhead,
    bool[] Modes, int Processes, string DataDirectory, int Seed, int Threads)
{
    private const string Usage = """
        usage: TorchTraining [--mode both|cached|uncached] [--nproc N] [--images N] [--image-size PX]
                             [--input-size PX] [--epochs N] [--batch N] [--workers N] [--read-ahead N]
                             [--threads N] [--data DIR] [--seed N]
          --mode        uncached, cached, or both one after the other (default both)
          --nproc       start N processes on this machine with the launcher's environment (WORLD_SIZE,
                        RANK, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1, CACHE_PORT); default 1
          --images      images in the data set (default 2000)
          --image-size  side of the stored JPEG images (default 320)
          --input-size  side the network sees after the resize, a multiple of 8 (default 32)
          --epochs      default 5; --batch default 64; --workers (TorchSharp's num_worker) default 2
          --read-ahead  indices the sampler hints ahead to the cached dataset (default 256)
          --threads     libtorch's intra-op threads (default 1: the loader's workers preprocess on the
                        other cores, and libtorch's OpenMP threads spin when cores are oversubscribed)
          --data        where the images are made (default: the system's temp directory)
        """;

    public static TrainingOptions? Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] is "-h" or "--help" || !args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                Console.Error.WriteLine(args[i] is "-h" or "--help" ? Usage : $"bad argument '{args[i]}'\n{Usage}");
                return null;
            }

            values[args[i][2..]] = args[++i];
        }

        try
        {
            var mode = values.GetValueOrDefault("mode", "both");
            bool[] modes = mode switch
            {
                "both" => [false, true],
                "cached" => [true],
                "uncached" => [false],
                _ => throw new ArgumentException($"--mode must be both, cached or uncached, not '{mode}'"),
            };
            var known = new[] { "mode", "nproc", "images", "image-size", "input-size", "epochs", "batch", "workers", "read-ahead", "data", "seed", "threads" };
            foreach (var key in values.Keys.Where(k => !known.Contains(k)))
            {
                throw new ArgumentException($"unknown option --{key}");
            }

            var options = new TrainingOptions(
                Int(values, "images", 2000, 1), Int(values, "image-size", 320, 8), Int(values, "input-size", 32, 8),
                Int(values, "epochs", 5, 1), Int(values, "batch", 64, 1), Int(values, "workers", 2, 1),
                Int(values, "read-ahead", 256, 1), modes, Int(values, "nproc", 1, 1),
                values.GetValueOrDefault("data", Path.Combine(Path.GetTempPath(), "cache-torch-training")),
                Int(values, "seed", 1, 0), Int(values, "threads", 1, 1));
            return options.InputSize % 8 != 0 ? throw new ArgumentException("--input-size must be a multiple of 8") : options;
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine($"{ex.Message}\n{Usage}");
            return null;
        }
    }

    private static int Int(Dictionary<string, string> values, string name, int fallback, int minimum)
    {
        if (!values.TryGetValue(name, out var text))
        {
            return fallback;
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= minimum
            ? value
            : throw new ArgumentException($"--{name} must be an integer of at least {minimum}, not '{text}'");
    }
}
