using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using Cache.Tests.Support;
using Cache.Transport;
using Cache.Transport.Resp;
using Cache.Transport.Resp.Commands;
using Cache.Transport.Server;
using CsCheck;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace Cache.Tests.Fuzz;

/// <summary>A generated RESP case: commands, the edits made to their bytes, how they arrive, and the limits in force.</summary>
internal sealed record RespCase(byte[][][] Commands, bool[] Inline, Mutation[] Mutations, int[] Splits, bool SmallLimits, bool Authenticated)
{
    public byte[] Valid { get; } = Encode(Commands, Inline);

    public byte[] Bytes => Mutations.Length == 0 ? Valid : HostileInput.Apply(Valid, Mutations);

    public RespLimits Limits => SmallLimits ? new RespLimits(64, 6, 48) : RespLimits.Default;

    public override string ToString() => $"limits {(SmallLimits ? "small" : "default")}, auth {Authenticated}, {Mutations.Length} edits; " + HostileInput.Show(Bytes, Splits);

    private static byte[] Encode(byte[][][] commands, bool[] inline)
    {
        var bytes = new List<byte>();
        for (var c = 0; c < commands.Length; c++)
        {
            var args = commands[c];
            if (inline[c] && args.All(a => a.Length > 0 && a.All(b => b is > 32 and < 127 and not (byte)'"' and not (byte)'\'')))
            {
                bytes.AddRange(Encoding.ASCII.GetBytes(string.Join(' ', args.Select(a => Encoding.ASCII.GetString(a))) + "\r\n"));
                continue;
            }

            bytes.AddRange(Encoding.ASCII.GetBytes($"*{args.Length}\r\n"));
            foreach (var a in args)
            {
                bytes.AddRange(Encoding.ASCII.GetBytes($"${a.Length}\r\n"));
                bytes.AddRange(a);
                bytes.AddRange("\r\n"u8.ToArray());
            }
        }

        return [.. bytes];
    }
}

/// <summary>
/// Generated hostile input for the RESP parser and a whole RESP connection: valid commands, mutated, delivered
/// at random split points. Properties: nothing throws, nothing hangs, parsing does not depend on where the
/// bytes were split, allocation is bounded by the bytes that arrived (never by a length claimed), and an
/// unedited stream parses to exactly the commands that were sent.
/// </summary>
public sealed class RespFuzzTests(ITestOutputHelper output)
{
    private static readonly string[] Names =
        ["GET", "SET", "MGET", "MSET", "DEL", "EXISTS", "PING", "ECHO", "INCR", "INCRBY", "APPEND", "STRLEN", "GETRANGE", "EXPIRE", "PEXPIRE", "TTL",
         "TYPE", "GETDEL", "GETEX", "SETNX", "SETEX", "HELLO", "CLIENT", "DBSIZE", "COMMAND", "SELECT", "AUTH", "CONFIG", "MEMORY", "CLUSTER", "SCAN", "RANDOMKEY", "TIME"];

    private static readonly Gen<byte[][]> Command =
        Gen.Select(Gen.Int[0, Names.Length - 1], HostileInput.Word.Array[0, 5], (n, args) => (byte[][])[Encoding.ASCII.GetBytes(Names[n]), .. args]);

    internal static readonly Gen<RespCase> Case =
        Gen.Select(Command.Array[0, 6], Gen.Bool.Array[6], Gen.Frequency((1, Gen.Const(Array.Empty<Mutation>())), (4, HostileInput.Mutation.Array[1, 4])), HostileInput.Splits, Gen.Bool, Gen.Frequency((4, Gen.Const(true)), (1, Gen.Const(false))))
            .Select(t => new RespCase(t.Item1, t.Item2, t.Item3, t.Item4, t.Item5, t.Item6));

    [Fact]
    public void Parser_split_anywhere_agrees_with_the_whole_stream_and_allocates_only_for_bytes_received()
    {
        FuzzRun.Check(output, "resp-parser", Case, 12_000, c =>
        {
            var data = c.Bytes;
            var whole = ParseWhole(data, c.Limits, c.Authenticated);
            var (split, allocated) = ParseSplit(data, HostileInput.Chunk(data, c.Splits), c.Limits, c.Authenticated);

            // Which protocol error a line past the inline limit gets depends, as in Redis, on whether its end had
            // arrived ("invalid multibulk length") or not ("too big mbulk count string"); either way the connection closes.
            Assert.Equal(whole.Select(Kind), split.Select(Kind));

            // The request's arrays grow with elements parsed and inline lines read; error texts are small. Nothing scales with a claimed length.
            Assert.True(allocated <= 16 * 1024 + (32L * data.Length), $"{allocated} bytes allocated parsing {data.Length} bytes");
            if (c.Mutations.Length == 0 && !c.SmallLimits && c.Authenticated)
            {
                var expected = c.Commands.Select(args => "C:" + string.Join("|", args.Select(Convert.ToHexString))).ToList();
                Assert.Equal(expected, whole);
            }
        }, c => c.ToString());
    }

    [Fact]
    public void Connection_survives_split_and_mutated_streams_and_answers_an_intact_one_to_the_end()
    {
        using var node = new CacheNode(new CacheNodeOptions { Capacity = 8 << 20 });
        var passwordless = new ServerContext(node, new PeerServerOptions { MaxQueryBuffer = 4096, MaxOutputBuffer = 1 << 20 }.ToRespSettings());
        var protectedContext = new ServerContext(node, new PeerServerOptions { RequirePass = "pw", MaxQueryBuffer = 4096, MaxOutputBuffer = 1 << 20 }.ToRespSettings());
        FuzzRun.Check(output, "resp-connection", Case, 4_000, c =>
        {
            // An intact stream ends with a PING, whose PONG proves every earlier command was answered and the session is alive.
            var data = c.Mutations.Length == 0 ? [.. c.Valid, .. "*1\r\n$4\r\nPING\r\n"u8] : c.Bytes;
            var server = c.Authenticated ? passwordless : protectedContext;
            var replies = Serve(server, HostileInput.Chunk(data, c.Splits), out _);
            if (c.Mutations.Length == 0 && c.Authenticated)
            {
                Assert.Equal(new Simple("PONG"), replies[^1]);
            }
        }, c => c.ToString());
    }

    private static string Kind(string outcome) => outcome.StartsWith("X:", StringComparison.Ordinal) ? "X" : outcome;

    /// <summary>Runs one connection to the end of its input on this thread; returns the replies (all of them must parse).</summary>
    private static List<object?> Serve(ServerContext server, List<byte[]> chunks, out ChunkedPipeReader reader)
    {
        var output = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        var client = new ClientInfo(server.NextClientId(), new IPEndPoint(IPAddress.Loopback, 50000), new IPEndPoint(IPAddress.Loopback, 7379), server.Store.NowUnixMs);
        var connection = new RespConnection(server, output.Writer, client, NullLogger.Instance);
        reader = new ChunkedPipeReader(chunks);
        var run = connection.RunAsync(reader);

        // Every command here is answered inline; a run that does not finish on this thread waits on something it must not.
        Assert.True(run.IsCompleted, "the connection waited on something other than its input");
        run.GetAwaiter().GetResult();
        output.Writer.Complete();
        Assert.True(output.Reader.TryRead(out var result));
        var buffer = result.Buffer;
        var replies = new List<object?>();
        while (RespReply.TryParse(ref buffer, out var reply))
        {
            replies.Add(reply);
        }

        Assert.True(buffer.IsEmpty, $"{buffer.Length} bytes of output are not a whole reply");
        output.Reader.AdvanceTo(result.Buffer.End);
        return replies;
    }

    /// <summary>Outcomes of parsing the stream all at once, from the start until it errs or runs out.</summary>
    private static List<string> ParseWhole(byte[] data, RespLimits limits, bool authenticated)
    {
        var outcomes = new List<string>();
        var request = new RespRequest();
        var offset = 0;
        while (offset < data.Length)
        {
            var span = data.AsSpan(offset);
            var status = RespParser.TryParse(span, request, limits, authenticated, out var consumed, out var needed, out var error);
            if (!Record(outcomes, status, span, request, consumed, needed, error))
            {
                break;
            }

            offset += consumed;
        }

        return outcomes;
    }

    /// <summary>
    /// Outcomes of parsing the stream as a connection stages it: the bytes of the unfinished command accumulate,
    /// and the parser is called again, resuming, only once the length it asked for has arrived. Also returns the
    /// bytes the parser allocated on this thread.
    /// </summary>
    private static (List<string> Outcomes, long Allocated) ParseSplit(byte[] data, List<byte[]> chunks, RespLimits limits, bool authenticated)
    {
        var outcomes = new List<string>();
        var request = new RespRequest();
        var pending = new List<byte>();
        long needed = 0;
        var resume = false;
        long allocated = 0;
        foreach (var chunk in chunks)
        {
            pending.AddRange(chunk);
            if (pending.Count < needed)
            {
                continue;
            }

            var buffer = pending.ToArray();
            var offset = 0;
            var stop = false;
            while (offset < buffer.Length)
            {
                var span = buffer.AsSpan(offset);
                var before = GC.GetAllocatedBytesForCurrentThread();
                var status = RespParser.TryParse(span, request, limits, authenticated, resume, out var consumed, out needed, out var error);
                allocated += GC.GetAllocatedBytesForCurrentThread() - before;
                if (status == ParseStatus.Incomplete)
                {
                    Assert.True(needed > span.Length, $"Incomplete asks for {needed} bytes but has {span.Length}: no progress");
                    resume = true;
                    break;
                }

                resume = false;
                needed = 0;
                if (!Record(outcomes, status, span, request, consumed, needed, error))
                {
                    stop = true;
                    break;
                }

                offset += consumed;
            }

            if (stop)
            {
                return (outcomes, allocated);
            }

            pending.RemoveRange(0, offset);
        }

        return (outcomes, allocated);
    }

    private static bool Record(List<string> outcomes, ParseStatus status, ReadOnlySpan<byte> span, RespRequest request, int consumed, long needed, string? error)
    {
        switch (status)
        {
            case ParseStatus.Complete:
                Assert.InRange(consumed, 1, span.Length);
                var args = new List<string>();
                foreach (var arg in request.Args)
                {
                    var source = request.IsInline ? request.InlineBytes : span[..consumed];
                    Assert.InRange(arg.Start, 0, source.Length);
                    Assert.InRange(arg.Length, 0, source.Length - arg.Start);
                    args.Add(Convert.ToHexString(source.Slice(arg.Start, arg.Length)));
                }

                outcomes.Add("C:" + string.Join("|", args));
                return true;
            case ParseStatus.Empty:
                Assert.InRange(consumed, 1, span.Length);
                outcomes.Add("E");
                return true;
            case ParseStatus.Incomplete:
                Assert.True(needed > span.Length, $"Incomplete asks for {needed} bytes but has {span.Length}: no progress");
                return false;
            default:
                Assert.StartsWith("ERR Protocol error", error);
                outcomes.Add("X:" + error);
                return false;
        }
    }
}
