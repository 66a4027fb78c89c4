using System.Text;
using BenchmarkDotNet.Attributes;
using Cache.Transport.Resp;

namespace Perf.Micro;

/// <summary>
/// The RESP parser on what a node reads most: one GET, and a pipelined batch of 16 GETs parsed
/// frame after frame as the connection's loop does (request reused, nothing allocated).
/// </summary>
[MemoryDiagnoser]
public class RespParserBenchmarks
{
    private const int Pipeline = 16;
    private readonly RespRequest _request = new();
    private readonly RespLimits _limits = RespLimits.Default;
    private byte[] _get = [];
    private byte[] _pipelined = [];

    [GlobalSetup]
    public void Setup()
    {
        _get = Frame(0);
        _pipelined = [.. Enumerable.Range(0, Pipeline).SelectMany(Frame)];
    }

    private static byte[] Frame(int i) => Encoding.ASCII.GetBytes($"*2\r\n$3\r\nGET\r\n$21\r\nimagenet-train:{i:D6}\r\n");

    [Benchmark]
    public int Get()
    {
        RespParser.TryParse(_get, _request, _limits, true, out var consumed, out _, out _);
        return consumed + _request.Count;
    }

    /// <summary>Sixteen GETs in one buffer; the figure is for the whole batch.</summary>
    [Benchmark]
    public int GetPipelined16()
    {
        ReadOnlySpan<byte> span = _pipelined;
        var args = 0;
        while (!span.IsEmpty && RespParser.TryParse(span, _request, _limits, true, out var consumed, out _, out _) == ParseStatus.Complete)
        {
            args += _request.Count;
            span = span[consumed..];
        }

        return args;
    }
}
