using System.Text;
using BenchmarkDotNet.Attributes;
using Cache.Engine;

namespace Perf.Micro;

/// <summary>
/// The LZ4 codec on a compressible 16 KB value (text records with varying numbers, as a serialized
/// sample's metadata might be; about 4:1 with LZ4's fast level). Both directions allocate their result:
/// the framed compressed bytes, and the decoded 16 KB.
/// </summary>
[MemoryDiagnoser]
public class ValueCodecBenchmarks
{
    private byte[] _value = [];
    private byte[] _encoded = [];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        var text = new StringBuilder();
        for (var i = 0; text.Length < 16 * 1024; i++)
        {
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"{{\"id\":{i},\"label\":{random.Next(1000)},\"weight\":{random.NextDouble():F3},\"split\":\"train\"}}\n");
        }

        _value = Encoding.ASCII.GetBytes(text.ToString(0, 16 * 1024));
        _encoded = ValueCodec.Encode(_value, 1);
        if (_encoded[0] != (byte)ValueFormat.Lz4)
        {
            throw new InvalidOperationException("the benchmark value did not compress");
        }

        Console.WriteLine($"// 16 KB value compresses to {_encoded.Length} bytes ({(double)_value.Length / _encoded.Length:F1}:1)");
    }

    [Benchmark]
    public int Compress16KB() => ValueCodec.Encode(_value, 1).Length;

    [Benchmark]
    public int Decompress16KB() => ValueCodec.TryDecode(_encoded, out var value) == DecodeResult.Value ? value.Length : -1;
}
