using System.Diagnostics;
using System.Globalization;
using Cache.Dataset;
using Cache.TorchSharp;
using TorchSharp;
using TorchTraining;
using static TorchSharp.torch;
using TorchDataLoader = TorchSharp.Modules.DataLoader;

// The cache's peer mesh is written for inline socket completions on one event thread (see the README);
// both settings must be in place before the first socket is used.
Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT", "1");

var options = TrainingOptions.Parse(args);
if (options is null)
{
    return 2;
}

if (options.Processes > 1 && Environment.GetEnvironmentVariable("WORLD_SIZE") is null)
{
    return Launcher.Run(options.Processes, args);
}

var worldSize = int.Parse(Environment.GetEnvironmentVariable("WORLD_SIZE") ?? "1", CultureInfo.InvariantCulture);
var rank = int.Parse(Environment.GetEnvironmentVariable("RANK") ?? "0", CultureInfo.InvariantCulture);

// Measured here (2 cores): a training step costs 27 ms of CPU with one libtorch thread and 315 ms with two
// while the loader's workers keep the other core busy (OpenMP threads spin waiting for each other).
torch.set_num_threads(options.Threads);
var files = ShapeImages.Ensure(options.DataDirectory, options.Images, options.ImageSize, options.Seed);

foreach (var cached in options.Modes)
{
    Console.WriteLine(
        $"config: {(cached ? "cached" : "uncached")}, rank {rank} of {worldSize}, {files.Length} JPEG images of " +
        $"{options.ImageSize}x{options.ImageSize} decoded and resized to {options.InputSize}x{options.InputSize} on every access, " +
        $"batch {options.BatchSize}, {options.Workers} loader workers, {(cached ? $"read-ahead {options.ReadAhead}, " : "")}" +
        $"{options.Epochs} epochs, libtorch threads {torch.get_num_threads()}, {Environment.ProcessorCount} cores");
    Train(files, options, cached, rank, worldSize);
}

return 0;

static void Train(string[] files, TrainingOptions options, bool cached, int rank, int worldSize)
{
    torch.manual_seed(options.Seed);
    var source = new JpegDataset(files, options.InputSize);
    CachedTensorDataset? cache = null;
    utils.data.Dataset dataset = source;
    DistributedSampler sampler;
    if (cached)
    {
        // The one line that links the cache in: a mesh over the job's processes when WORLD_SIZE > 1.
        cache = new CachedTensorDataset(source, new CacheOptions { DatasetName = $"shapes-{options.Images}-{options.InputSize}", CapacityPerNode = 2L << 30 });
        dataset = cache;
        sampler = cache.CreateSampler(readAhead: options.ReadAhead, seed: options.Seed);
    }
    else
    {
        sampler = new DistributedSampler(files.Length, seed: options.Seed);
    }

    using var loader = new TorchDataLoader(dataset, options.BatchSize, sampler, num_worker: options.Workers);
    using var model = new ShapeNet(options.InputSize, ShapeImages.Classes);
    using var optimizer = torch.optim.Adam(model.parameters(), lr: 0.003);
    using var lossFunction = torch.nn.CrossEntropyLoss();
    model.train();

    for (var epoch = 0; epoch < options.Epochs; epoch++)
    {
        sampler.SetEpoch(epoch);
        var before = cache?.Statistics;
        var total = Stopwatch.StartNew();
        var waiting = TimeSpan.Zero;
        double lossSum = 0;
        var batches = 0;
        using (var batchesOfEpoch = loader.GetEnumerator())
        {
            while (true)
            {
                var wait = Stopwatch.StartNew();
                var more = batchesOfEpoch.MoveNext();
                waiting += wait.Elapsed;
                if (!more)
                {
                    break;
                }

                using var step = torch.NewDisposeScope();
                var batch = batchesOfEpoch.Current;
                optimizer.zero_grad();
                var output = model.forward(batch["image"]);
                var loss = lossFunction.forward(output, batch["label"]);
                loss.backward();
                optimizer.step();
                lossSum += loss.item<float>();
                batches++;
            }
        }

        total.Stop();

        // Ranks of a data-parallel job move in step (their gradients are all-reduced every step); these
        // independent replicas meet once per epoch instead, so no rank reads ahead of samples another
        // rank has not produced yet.
        Launcher.Barrier();
        var hitRate = "-";
        if (cache is not null && before is { } start)
        {
            var now = cache.Statistics;
            var reads = now.Hits - start.Hits + (now.Misses - start.Misses);
            hitRate = reads == 0 ? "-" : ((double)(now.Hits - start.Hits) / reads).ToString("F2", CultureInfo.InvariantCulture);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"epoch {epoch + 1}: {total.Elapsed.TotalSeconds:F2} s (data {waiting.TotalSeconds:F2} s), hit rate {hitRate}, loss {lossSum / Math.Max(batches, 1):F4}"));
    }

    if (cache is not null)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"cache: {cache.Statistics.Hits} hits, {cache.Statistics.Misses} misses"));
    }

    // The last barrier above also keeps a finished rank serving its share of the cache until every rank
    // has finished.
}
