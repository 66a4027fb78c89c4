using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Cache.Transport;
using Cache.Transport.Mesh;
using Cache.Transport.Peer;
using Cache.Transport.Resp;
using Cache.Transport.Resp.Commands;
using Cache.Transport.Server;
using CsCheck;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace Cache.Tests.Fuzz;

/// <summary>One generated peer request: the operation, its id and the material its payload is built from.</summary>
internal readonly record struct PeerRequest(int Kind, uint Id, byte[][] Keys, byte[][] Values, int Number);

/// <summary>A generated peer connection: the handshake, requests, edits to the whole stream, and the split points.</summary>
internal sealed record PeerCase(bool Secret, int CompressAbove, PeerRequest[] Requests, Mutation[] Mutations, int[] Splits)
{
    public byte[] Valid { get; } = Encode(CompressAbove, Requests);

    public byte[] Bytes => Mutations.Length == 0 ? Valid : HostileInput.Apply(Valid, Mutations);

    public override string ToString() => $"secret {Secret}, compress {CompressAbove}, {Requests.Length} requests, {Mutations.Length} edits; " + HostileInput.Show(Bytes, Splits);

    private static byte[] Encode(int compressAbove, PeerRequest[] requests)
    {
        var bytes = new List<byte>(PeerFrame.Preamble.ToArray());
        var frame = new PeerFrameBuilder();
        frame.Start(PeerOp.Hello, 1).Int32(PeerFrame.Version).Bytes("cache"u8).Bytes(new byte[PeerAuth.NonceLength]).Int32(compressAbove);
        bytes.AddRange(frame.Finish().ToArray());
        foreach (var r in requests)
        {
            switch (r.Kind)
            {
                case 0:
                    frame.Start(PeerOp.Ping, r.Id);
                    break;
                case 1:
                    frame.Start(PeerOp.Get, r.Id).Int32(r.Keys.Length);
                    foreach (var k in r.Keys)
                    {
                        frame.Bytes(k);
                    }

                    break;
                case 2:
                    frame.Start(PeerOp.Set, r.Id).Int32(r.Keys.Length);
                    for (var i = 0; i < r.Keys.Length; i++)
                    {
                        frame.Bytes(r.Keys[i]);
                        var v = r.Values[i % r.Values.Length];
                        if (compressAbove > 0)
                        {
                            frame.Int32(v.Length + 1).Byte(0).Raw(v);
                        }
                        else
                        {
                            frame.Bytes(v);
                        }
                    }

                    break;
                case 3:
                    frame.Start(r.Number % 2 == 0 ? PeerOp.Count : PeerOp.Clear, r.Id).Bytes(r.Keys.Length > 0 ? r.Keys[0] : []);
                    break;
                case 4:
                    // A forwarded RESP command: i32 protocol, i32 count, then each argument as bytes.
                    frame.Start(PeerOp.Command, r.Id).Int32(2 + (r.Number & 1)).Int32(r.Keys.Length + 1).Bytes("GET"u8);
                    foreach (var k in r.Keys)
                    {
                        frame.Bytes(k);
                    }

                    break;
                case 5:
                    frame.Start(PeerOp.Join, r.Id).Int32(r.Number % 4).Int32(4).Bytes("10.0.0.1:7379"u8);
                    break;
                default:
                    // An operation this protocol does not have (known operations get their own well-formed cases; the edits garble them).
                    frame.Start((PeerOp)(byte)(19 + (r.Number % 200)), r.Id).Raw(r.Keys.Length > 0 ? r.Keys[0] : []);
                    break;
            }

            bytes.AddRange(frame.Finish().ToArray());
        }

        // An intact stream ends with a ping whose pong proves the connection answered everything before it.
        bytes.AddRange(frame.Start(PeerOp.Ping, uint.MaxValue).Finish().ToArray());
        return [.. bytes];
    }
}

/// <summary>
/// Generated hostile input for the native peer protocol's server side: the preamble, the handshake (with and
/// without a secret) and every operation's payload, mutated and delivered at random split points. Properties:
/// nothing throws or hangs, every reply is a whole frame, allocation is bounded by the bytes received, a
/// connection that has not proved the secret gets no data, and an intact stream is answered to its last frame.
/// </summary>
public sealed class PeerFuzzTests(ITestOutputHelper output)
{
    private static readonly Gen<byte[]> Key = Gen.Frequency(
        (4, Gen.Int[0, 7].Select(i => Encoding.ASCII.GetBytes($"k{i}"))),
        (1, Gen.Byte.Array[0, 12]));

    private static readonly Gen<PeerRequest> Request =
        Gen.Select(Gen.Int[0, 6], Gen.UInt, Key.Array[0, 6], Gen.Byte.Array[0, 64].Array[1, 3], Gen.Int[0, 255], (k, id, keys, values, n) => new PeerRequest(k, id, keys, values, n));

    internal static readonly Gen<PeerCase> Case =
        Gen.Select(Gen.Bool, Gen.OneOf<int>(0, 0, 16), Request.Array[0, 8], Gen.Frequency((1, Gen.Const(Array.Empty<Mutation>())), (4, HostileInput.Mutation.Array[1, 4])), HostileInput.Splits)
            .Select(t => new PeerCase(t.Item1, t.Item2, t.Item3, t.Item4, t.Item5));

    private static readonly PeerOp[] Replies = [PeerOp.HelloOk, PeerOp.Challenge, PeerOp.Pong, PeerOp.GetReply, PeerOp.SetReply, PeerOp.Number, PeerOp.CommandReply, PeerOp.Waiting, PeerOp.Table, PeerOp.Error];

    private static readonly PeerOp[] Data = [PeerOp.Pong, PeerOp.GetReply, PeerOp.SetReply, PeerOp.Number, PeerOp.CommandReply, PeerOp.Waiting, PeerOp.Table];

    [Fact]
    public void Peer_connection_survives_generated_frames_and_serves_strangers_nothing()
    {
        using var node = new CacheNode(new CacheNodeOptions { Capacity = 8 << 20 });
        var context = new ServerContext(node, new PeerServerOptions { MaxQueryBuffer = 64 * 1024 }.ToRespSettings());
        var open = new PeerServices(node.Store, "cache", null, 64 * 1024) { Commands = new ForwardedCommands(context) };
        var guarded = new PeerServices(node.Store, "cache", "s3cret", 64 * 1024) { Commands = new ForwardedCommands(context) };
        FuzzRun.Check(output, "peer-connection", Case, 8_000, c =>
        {
            var data = c.Bytes;
            var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
            var connection = new PeerConnection(c.Secret ? guarded : open, pipe.Writer, NullLogger.Instance);
            var reader = new ChunkedPipeReader(HostileInput.Chunk(data, c.Splits));
            var chunksBefore = node.Store.SampleChunkBytes;
            var before = GC.GetAllocatedBytesForCurrentThread();
            var run = connection.RunAsync(reader);

            // A write may open the store's next 4 MB chunk of samples: the store's growth, bounded by its capacity, not by the input.
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before - Math.Max(0, node.Store.SampleChunkBytes - chunksBefore);
            Assert.True(run.IsCompleted, "the connection waited on something other than its input");
            run.GetAwaiter().GetResult();
            Assert.True(allocated <= (1 << 20) + (64L * data.Length), $"{allocated} bytes allocated serving {data.Length} bytes");

            pipe.Writer.Complete();
            var frames = ReadFrames(pipe.Reader);
            Assert.All(frames, f => Assert.Contains(f.Op, Replies));
            if (c.Secret)
            {
                // Nobody here can answer the challenge, so no request may reach the store.
                Assert.DoesNotContain(frames, f => Data.Contains(f.Op));
            }
            else if (c.Mutations.Length == 0)
            {
                // Replies travel by request id, and counts and clears answer late (off the event thread), so the final ping's pong need not be last.
                Assert.Contains((PeerOp.Pong, uint.MaxValue), frames);
            }
        }, c => c.ToString());
    }

    [Fact]
    public void Forwarded_command_decoding_stays_inside_the_payload_and_grows_only_with_arguments_present()
    {
        var gen = Gen.Select(HostileInput.Word.Array[1, 8], Gen.Int[2, 3], Gen.Frequency((1, Gen.Const(Array.Empty<Mutation>())), (4, HostileInput.Mutation.Array[1, 4])), Gen.Int[1, 16]);
        FuzzRun.Check(output, "forwarded-command", gen, 20_000, t =>
        {
            var (args, protocol, mutations, max) = t;
            var valid = new List<byte>();
            valid.AddRange(BitConverter.GetBytes(protocol));
            valid.AddRange(BitConverter.GetBytes(args.Length));
            foreach (var a in args)
            {
                valid.AddRange(BitConverter.GetBytes(a.Length));
                valid.AddRange(a);
            }

            var payload = mutations.Length == 0 ? valid.ToArray() : HostileInput.Apply([.. valid], mutations);
            var ranges = new ArgRange[1];
            var ok = ForwardedCommand.TryDecode(payload, max, ref ranges, out var decodedProtocol, out var count);
            if (ok)
            {
                Assert.InRange(count, 1, max);
                Assert.True(decodedProtocol is 2 or 3);
                var end = 8;
                foreach (var r in ranges.AsSpan(0, count))
                {
                    Assert.Equal(end + 4, r.Start);
                    end = r.Start + r.Length;
                }

                Assert.Equal(payload.Length, end);
            }

            // The array grows by doubling from what was decoded, never from the count the payload claims.
            Assert.True(ranges.Length <= Math.Max(1, 2 * (payload.Length / 4)), $"ranges grew to {ranges.Length} for {payload.Length} bytes");
            if (mutations.Length == 0)
            {
                Assert.Equal(args.Length <= max, ok);
                if (ok)
                {
                    Assert.Equal(args.Select(Convert.ToHexString), ranges.Take(count).Select(r => Convert.ToHexString(payload.AsSpan(r.Start, r.Length))));
                }
            }
        }, t => HostileInput.Show([.. t.Item1.SelectMany(a => a)], []));
    }

    private static List<(PeerOp Op, uint Id)> ReadFrames(PipeReader reader)
    {
        Assert.True(reader.TryRead(out var result));
        var buffer = result.Buffer;
        var frames = new List<(PeerOp, uint)>();
        Span<byte> header = stackalloc byte[PeerFrame.HeaderLength];
        while (buffer.Length >= PeerFrame.HeaderLength)
        {
            buffer.Slice(0, PeerFrame.HeaderLength).CopyTo(header);
            PeerFrame.TryReadHeader(header, out var length, out var op, out var id);
            Assert.InRange(length, 0, buffer.Length - PeerFrame.HeaderLength);
            frames.Add((op, id));
            buffer = buffer.Slice(PeerFrame.HeaderLength + length);
        }

        Assert.Equal(0, buffer.Length);
        reader.AdvanceTo(result.Buffer.End);
        return frames;
    }
}
