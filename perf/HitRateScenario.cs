using System.Globalization;
using System.Text;
using Cache.Engine;

namespace Perf;

/// <summary>
/// Hit rate of each admission policy on the real BlockStore when a fraction of the dataset fits,
/// under epochs that each visit every sample once in a fresh random order. Hits are counted over
/// epochs 2 and later (epoch 1 only fills the cache). The ceiling for any policy is the fraction.
/// </summary>
internal static class HitRateScenario
{
    private static readonly double[] Fractions = [0.1, 0.25, 0.5, 0.75, 0.9];

    public static ScenarioResult Run(Arguments args, bool quick)
    {
        var samples = args.Int("samples", quick ? 10_000 : 50_000);
        var valueBytes = args.Int("bytes", 1024);
        var epochs = Math.Max(2, args.Int("epochs", quick ? 4 : 6));
        var rows = new List<Row>();
        var results = new Dictionary<(AdmissionPolicy, double), double>();
        var keys = Enumerable.Range(0, samples).Select(i => Encoding.ASCII.GetBytes("hr:" + i.ToString("D8", CultureInfo.InvariantCulture))).ToArray();
        var value = new byte[valueBytes];

        foreach (var policy in new[] { AdmissionPolicy.Retain, AdmissionPolicy.Lru, AdmissionPolicy.Random })
        {
            foreach (var fraction in Fractions)
            {
                Harness.Progress("hitrate", $"{policy} at {fraction:P0} of {samples} samples, {epochs} epochs");
                // Each policy's store holds the fraction: a Retain store's samples and an Lru/Random store's entries are charged differently.
                var charge = policy == AdmissionPolicy.Retain ? BlockStore.ChargeFor(keys[0].Length, valueBytes) : BlockStore.IndexedChargeFor(keys[0].Length, valueBytes);
                var capacity = (long)Math.Floor(fraction * samples) * charge;
                using var store = new BlockStore(new BlockStoreOptions { Capacity = capacity, Policy = policy, ExpirationSweepInterval = TimeSpan.Zero });
                var random = new Random(12345);
                var order = Enumerable.Range(0, samples).ToArray();
                long hits = 0;
                long reads = 0;
                for (var epoch = 1; epoch <= epochs; epoch++)
                {
                    random.Shuffle(order);
                    foreach (var i in order)
                    {
                        var hit = store.TryGet(keys[i], out _);
                        if (!hit)
                        {
                            store.Set(keys[i], value);
                        }

                        if (epoch >= 2)
                        {
                            reads++;
                            hits += hit ? 1 : 0;
                        }
                    }
                }

                var rate = (double)hits / reads;
                results[(policy, fraction)] = rate;
                rows.Add(new Row().Add("policy", policy.ToString().ToLowerInvariant()).Add("fraction", fraction).Add("hitRate", rate));
            }
        }

        var summary = new List<string>
        {
            $"{samples} samples of {valueBytes} B, {epochs} epochs, hits counted over epochs 2-{epochs}; the ceiling is the fraction.",
            $"at 0.5: retain {results[(AdmissionPolicy.Retain, 0.5)]:F3}, lru {results[(AdmissionPolicy.Lru, 0.5)]:F3}, random {results[(AdmissionPolicy.Random, 0.5)]:F3}.",
        };
        return new ScenarioResult("hitrate", rows, summary);
    }
}
