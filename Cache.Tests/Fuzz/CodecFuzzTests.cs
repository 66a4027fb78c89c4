using System.Text;
using Cache.Dataset;
using Cache.Engine;
using Cache.Transport;
using Cache.Transport.Peer;
using CsCheck;
using MessagePack;
using Xunit.Abstractions;

namespace Cache.Tests.Fuzz;

/// <summary>A sample type with the shapes MessagePack readers get wrong: nested arrays, strings, a map.</summary>
[MessagePackObject]
public sealed record FuzzSample([property: Key(0)] int Label, [property: Key(1)] float[] Features, [property: Key(2)] string Path, [property: Key(3)] Dictionary<string, long[]> Extra);

/// <summary>
/// Generated hostile input for the value codec (the store's format byte and LZ4 frames), the peer wire codec,
/// and the MessagePack sample path of <see cref="CachedDataset{T}"/>. Properties: nothing throws, a decoded
/// length is bounded by what the bytes can expand to before anything is allocated, intact values round-trip,
/// and a dataset reading bytes it cannot decode recomputes the true sample instead of failing.
/// </summary>
public sealed class CodecFuzzTests(ITestOutputHelper output)
{
    private static readonly Gen<byte[]> Payload = Gen.Frequency(
        (3, Gen.Byte.Array[0, 600]),
        (3, Gen.Select(Gen.Byte, Gen.Int[0, 3000]).Select(t => Enumerable.Repeat(t.Item1, t.Item2).ToArray())),
        (2, HostileInput.Word.Array[0, 60].Select(w => w.SelectMany(b => b).ToArray())));

    private static readonly Gen<Mutation[]> Edits = Gen.Frequency((1, Gen.Const(Array.Empty<Mutation>())), (4, HostileInput.Mutation.Array[1, 4]));

    [Fact]
    public void Value_codec_decodes_any_bytes_without_throwing_or_allocating_past_the_lz4_bound()
    {
        var gen = Gen.Select(Payload, Gen.OneOf<int>(0, 1, 64, 512), Edits, Gen.Bool);
        FuzzRun.Check(output, "value-codec", gen, 20_000, t =>
        {
            var (payload, compressAt, edits, asNull) = t;
            var encoded = asNull ? ValueCodec.EncodeNull() : ValueCodec.Encode(payload, compressAt);
            var bytes = edits.Length == 0 ? encoded : HostileInput.Apply(encoded, edits);
            var before = GC.GetAllocatedBytesForCurrentThread();
            var result = ValueCodec.TryDecode(bytes, out var decoded);
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

            // LZ4 expands at most ~255x: anything claiming more is refused before the buffer exists.
            Assert.True(allocated <= 1024 + (256L * bytes.Length), $"{allocated} bytes allocated decoding {bytes.Length}");
            if (result == DecodeResult.Value)
            {
                Assert.True(decoded.Length <= 255L * bytes.Length + 16);
            }

            if (edits.Length == 0)
            {
                Assert.Equal(asNull ? DecodeResult.Null : DecodeResult.Value, result);
                if (!asNull)
                {
                    Assert.True(decoded.Span.SequenceEqual(payload));
                }
            }

            var wire = WireCodec.TryDecode(bytes, out var value);
            Assert.Equal(bytes.Length > 0 && bytes[0] is 0 or 1 && result == DecodeResult.Value, wire);
            if (wire)
            {
                Assert.True(value.SequenceEqual(decoded.Span));
            }
        }, t => HostileInput.Show(t.Item1, []));
    }

    private static readonly Gen<FuzzSample> Sample =
        Gen.Select(Gen.Int, Gen.Float.Array[0, 40], Gen.String[0, 30], Gen.Dictionary(Gen.String[0, 8], Gen.Long.Array[0, 8])[0, 4], (l, f, p, d) => new FuzzSample(l, f, p, d));

    [Fact]
    public void Dataset_recomputes_a_sample_whose_cached_bytes_were_garbled()
    {
        using var node = new CacheNode(new CacheNodeOptions { Capacity = 32 << 20 });
        var case_ = 0;
        var gen = Gen.Select(Sample, Edits, Gen.Bool);
        FuzzRun.Check(output, "messagepack-sample", gen, 4_000, t =>
        {
            var (sample, edits, compress) = t;
            var name = $"fz{case_++}";
            var source = new[] { sample };
            var stored = ValueCodec.Encode(MessagePackSerializer.Serialize(sample, SampleSerializer.MessagePackDefaults), compress ? 64 : 0);
            var bytes = edits.Length == 0 ? stored : HostileInput.Apply(stored, edits);
            node.Store.Set(Encoding.UTF8.GetBytes($"{name}:0"), bytes);
            using var dataset = new CachedDataset<FuzzSample>(source, new CacheOptions { DatasetName = name, Node = node, WriterBufferSize = 1 });

            var before = GC.GetAllocatedBytesForCurrentThread();
            var got = dataset[0];
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated <= (256 * 1024) + (64L * bytes.Length), $"{allocated} bytes allocated reading {bytes.Length}");
            var stats = dataset.Statistics;
            if (edits.Length == 0 || stats.Corrupt > 0)
            {
                // Intact bytes are the sample; bytes the dataset could not read are recomputed from the source.
                Assert.Equal(MessagePackSerializer.Serialize(sample, SampleSerializer.MessagePackDefaults), MessagePackSerializer.Serialize(got, SampleSerializer.MessagePackDefaults));
            }

            if (edits.Length == 0)
            {
                Assert.Equal(0, stats.Corrupt);
                Assert.Equal(1, stats.Hits);
            }

            dataset.Clear();
        }, t => HostileInput.Show(MessagePackSerializer.Serialize(t.Item1, SampleSerializer.MessagePackDefaults), []));
    }
}
