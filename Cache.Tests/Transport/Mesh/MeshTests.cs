using System.Net;
using System.Text;
using Cache.Dataset;
using Cache.Engine;
using Cache.Transport;
using Cache.Tests.Support;
using Cache.Transport.Peer;

namespace Cache.Tests.Transport.Mesh;

/// <summary>The peer mesh inside one test process: routing, ownership, failures and secrets.</summary>
public class MeshTests
{
    private sealed class Source(int count) : IDataset<byte[]>
    {
        private int _produced;

        public int Produced => Volatile.Read(ref _produced);

        public int Count => count;

        public byte[] this[int index]
        {
            get
            {
                Interlocked.Increment(ref _produced);
                return Expected(index);
            }
        }

        public static byte[] Expected(int index) => Encoding.UTF8.GetBytes($"sample-{index}-" + new string((char)('a' + (index % 26)), index % 300));
    }

    [Fact]
    public async Task Every_sample_read_anywhere_equals_the_source_and_lives_on_its_owner()
    {
        await using var mesh = TestMesh.Start(3);
        var sources = Enumerable.Range(0, 3).Select(_ => new Source(600)).ToArray();
        var datasets = Enumerable.Range(0, 3).Select(r => new CachedDataset<byte[]>(sources[r], new CacheOptions { DatasetName = "mesh", Node = mesh.Nodes[r], WriterBufferSize = 16 })).ToArray();
        try
        {
            for (var epoch = 0; epoch < 2; epoch++)
            {
                for (var r = 0; r < 3; r++)
                {
                    foreach (var i in Enumerable.Range(0, 600).OrderBy(i => (i * 7919) + (epoch * 31) + r))
                    {
                        Assert.Equal(Source.Expected(i), datasets[r][i]);
                    }

                    datasets[r].Flush();
                }
            }

            var map = new SlotMap(3);
            for (var i = 0; i < 600; i++)
            {
                var key = Encoding.UTF8.GetBytes($"mesh:{i}");
                var owner = map.OwnerOfKey(key);
                Assert.Equal(owner, map.OwnerOfSlot(HashSlot.GetSlot(key)));
                for (var r = 0; r < 3; r++)
                {
                    Assert.Equal(r == owner, mesh.Nodes[r].Store.ContainsKey(key));
                }
            }

            // Rank 0 produced every sample in its first epoch; later readers found them all in the mesh.
            Assert.Equal(600, sources[0].Produced);
            Assert.True(sources[1].Produced + sources[2].Produced < 100, $"{sources[1].Produced} + {sources[2].Produced} samples recomputed");
            Assert.Equal(600, datasets[1].NumKeys());
        }
        finally
        {
            Array.ForEach(datasets, d => d.Dispose());
        }
    }

    [Fact]
    public async Task Batched_reads_go_to_every_owner_and_come_back_in_order()
    {
        await using var mesh = TestMesh.Start(4);
        using var writer = new CachedDataset<byte[]>(new Source(256), new CacheOptions { DatasetName = "batch", Node = mesh.Nodes[0], WriterBufferSize = 64 });
        _ = writer.GetMany(Enumerable.Range(0, 256).ToArray());
        writer.Flush();
        var source = new Source(256);
        using var reader = new CachedDataset<byte[]>(source, new CacheOptions { DatasetName = "batch", Node = mesh.Nodes[3] });
        var indices = Enumerable.Range(0, 256).Reverse().ToArray();
        var samples = reader.GetMany(indices);
        for (var j = 0; j < indices.Length; j++)
        {
            Assert.Equal(Source.Expected(indices[j]), samples[j]);
        }

        Assert.Equal(0, source.Produced);
    }

    [Fact]
    public async Task A_node_killed_mid_epoch_leaves_the_epoch_to_complete_with_its_samples_recomputed()
    {
        var mesh = TestMesh.Start(3);
        try
        {
            var source = new Source(450);
            using var dataset = new CachedDataset<byte[]>(source, new CacheOptions { DatasetName = "kill", Node = mesh.Nodes[0], WriterBufferSize = 8 });
            for (var i = 0; i < 450; i++)
            {
                Assert.Equal(Source.Expected(i), dataset[i]);
            }

            dataset.Flush();
            var map = new SlotMap(3);
            var onDeadNode = Enumerable.Range(0, 450).Count(i => map.OwnerOfKey(Encoding.UTF8.GetBytes($"kill:{i}")) == 2);
            var before = source.Produced;
            for (var i = 0; i < 450; i++)
            {
                if (i == 200)
                {
                    await mesh.KillAsync(2);
                }

                Assert.Equal(Source.Expected(i), dataset[i]);
            }

            var recomputed = source.Produced - before;
            Assert.InRange(recomputed, 1, onDeadNode);
        }
        finally
        {
            await mesh.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_mesh_with_a_secret_works_and_a_member_with_the_wrong_secret_gets_misses()
    {
        await using var mesh = TestMesh.Start(2, secret: "shared");
        using var a = new CachedDataset<byte[]>(new Source(100), new CacheOptions { DatasetName = "secret", Node = mesh.Nodes[0], WriterBufferSize = 1 });
        for (var i = 0; i < 100; i++)
        {
            _ = a[i];
        }

        var intruder = new PeerClient(mesh.Servers[1].EndPoint, new PeerClientOptions { Secret = "guess" });
        await Assert.ThrowsAsync<PeerRefusedException>(() => intruder.ConnectAsync());
        await intruder.DisposeAsync();
        Assert.Equal(100, a.NumKeys());
    }
}
