using Cache.Dataset;
using Cache.Engine;

namespace Cache.Tests.Dataset;

public class CompressionGateTests
{
    [Fact]
    public void After_enough_incompressible_samples_in_a_row_only_one_in_RetryEvery_is_tried()
    {
        var gate = new CompressionGate();
        for (var i = 0; i < CompressionGate.GiveUpAfter; i++)
        {
            Assert.True(gate.ShouldTry());
            gate.Record(compressed: false);
        }

        var tried = Enumerable.Range(0, CompressionGate.RetryEvery * 10).Count(_ => gate.ShouldTry());
        Assert.Equal(10, tried);
    }

    [Fact]
    public void One_sample_that_compresses_turns_every_attempt_back_on()
    {
        var gate = new CompressionGate();
        for (var i = 0; i < CompressionGate.GiveUpAfter; i++)
        {
            gate.Record(compressed: false);
        }

        while (!gate.ShouldTry())
        {
        }

        gate.Record(compressed: true);
        Assert.All(Enumerable.Range(0, CompressionGate.GiveUpAfter), _ => Assert.True(gate.ShouldTry()));
    }

    [Fact]
    public void Incompressible_samples_in_a_row_short_of_the_limit_leave_every_attempt_on()
    {
        var gate = new CompressionGate();
        for (var round = 0; round < 10; round++)
        {
            for (var i = 0; i < CompressionGate.GiveUpAfter - 1; i++)
            {
                gate.Record(compressed: false);
            }

            gate.Record(compressed: true);
        }

        Assert.All(Enumerable.Range(0, 100), _ => Assert.True(gate.ShouldTry()));
    }

    [Fact]
    public void A_dataset_whose_samples_start_to_compress_stores_them_compressed_again()
    {
        // Samples 0-199 are random bytes (incompressible), 200-399 one byte repeated (compressible).
        using var backend = new RecordingBackend();
        var source = new SwitchingSource(switchAt: 200, count: 400);
        using var dataset = new CachedDataset<byte[]>(source, new CacheOptions { DatasetName = "gate", BackendOverride = backend, Compression = SampleCompression.Lz4 });
        for (var i = 0; i < source.Count; i++)
        {
            _ = dataset[i];
        }

        dataset.Flush();
        bool Compressed(int i) => backend.Store.TryGet(System.Text.Encoding.ASCII.GetBytes($"gate:{i}"), out var stored) && stored.Span[0] == (byte)ValueFormat.Lz4;

        Assert.DoesNotContain(Enumerable.Range(0, 200), Compressed);

        // Attempts are rare once random samples have come in a row: the first compressible ones go raw until the next
        // attempt (samples 16-199 were 184 skips and one skip in 64 is tried, so sample 207 here; sample 200 only if the
        // gate were not consulted), then all of them are compressed.
        var first = Enumerable.Range(200, 200).First(Compressed);
        Assert.InRange(first, 201, 200 + CompressionGate.RetryEvery);
        Assert.All(Enumerable.Range(first, 400 - first), i => Assert.True(Compressed(i), $"sample {i} was stored raw"));

        // And every sample reads back as produced.
        for (var i = 0; i < source.Count; i++)
        {
            Assert.Equal(source.Expected(i), dataset[i]);
        }
    }

    private sealed class SwitchingSource(int switchAt, int count) : IDataset<byte[]>
    {
        public int Count => count;

        public byte[] this[int index] => Expected(index);

        public byte[] Expected(int index)
        {
            var sample = new byte[4096];
            if (index < switchAt)
            {
                new Random(index).NextBytes(sample);
            }
            else
            {
                Array.Fill(sample, (byte)index);
            }

            return sample;
        }
    }
}
