using System.Net;
using System.Net.Sockets;
using System.Text;
using Cache.Engine;
using Cache.Tests.Support;
using Cache.Transport;
using Cache.Transport.Peer;

namespace Cache.Tests.Transport.Peer;

public class PeerProtocolTests
{
    private static StoreKey Key(string text) => StoreKey.Copy(Encoding.UTF8.GetBytes(text));

    private static PeerClient Client(TestServer server, string? secret = null, string cluster = "cache") =>
        new(new IPEndPoint(IPAddress.Loopback, server.Port), new PeerClientOptions { Secret = secret, ClusterId = cluster, RequestTimeout = TimeSpan.FromSeconds(5) });

    [Fact]
    public async Task Batched_writes_and_reads_round_trip_including_missing_keys_and_large_values()
    {
        await using var server = TestServer.Start();
        await using var client = Client(server);
        var big = new byte[3 * 1024 * 1024];
        new Random(5).NextBytes(big);
        var results = await client.SetManyAsync([new(Key("a"), [1, 2, 3]), new(Key("big"), big), new(Key("empty"), [])]);
        Assert.Equal([SetResult.Added, SetResult.Added, SetResult.Added], results);
        var values = await client.GetManyAsync([Key("a"), Key("nope"), Key("big"), Key("empty")]);
        Assert.NotNull(values);
        Assert.Equal(new byte[] { 1, 2, 3 }, values[0]!.Value.ToArray());
        Assert.Null(values[1]);
        Assert.Equal(big, values[2]!.Value.ToArray());
        Assert.Equal([], values[3]!.Value.ToArray());
        Assert.True(server.Node.Store.ContainsKey("big"u8));
        Assert.True(await client.PingAsync());
    }

    [Fact]
    public async Task A_clear_by_prefix_runs_off_the_connection_so_pings_behind_it_and_beside_it_are_answered_while_it_runs()
    {
        await using var server = TestServer.Start();
        await using var client = Client(server);
        var store = server.Node.Store;
        for (var i = 0; i < 1000; i++)
        {
            store.Set(Encoding.UTF8.GetBytes($"ds:{i}"), [1, 2, 3]);
        }

        // Hold the stripe lock of one key (a store callback runs under it), so that the clear, which takes
        // every key's lock in turn, stops there until the test lets it go on.
        using var holding = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var holder = Task.Factory.StartNew(
            () =>
            {
                var state = 0;
                store.Update("ds:0"u8, ref state, (ReadOnlySpan<byte> current, bool exists, ref int s) =>
                {
                    holding.Set();
                    release.Wait();
                    return null;
                });
            },
            TaskCreationOptions.LongRunning);
        holding.Wait();

        var clear = client.RemoveKeysAsync(Encoding.UTF8.GetBytes("ds:"));
        Assert.True(await client.PingAsync());
        using (var resp = await server.ConnectAsync())
        {
            await resp.SendAsync("PING\r\n"u8.ToArray());
            var reply = new byte[7];
            var read = 0;
            while (read < reply.Length)
            {
                read += await resp.ReceiveAsync(reply.AsMemory(read));
            }

            Assert.Equal("+PONG\r\n", Encoding.ASCII.GetString(reply));
        }

        Assert.False(clear.IsCompleted);
        release.Set();
        Assert.Equal(1000, await clear);
        await holder;
        Assert.Equal(0, store.Count);
    }

    [Fact]
    public async Task A_batch_longer_than_the_lookahead_window_returns_every_value_in_its_place()
    {
        await using var server = TestServer.Start();
        await using var client = Client(server);
        var stored = Enumerable.Range(0, 100).Where(i => i % 3 != 0).ToList();
        await client.SetManyAsync([.. stored.Select(i => new KeyValuePair<StoreKey, byte[]>(Key($"k{i}"), Encoding.UTF8.GetBytes($"v{i}")))]);
        var values = await client.GetManyAsync([.. Enumerable.Range(0, 100).Select(i => Key($"k{i}"))]);
        Assert.NotNull(values);
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(i % 3 == 0 ? null : $"v{i}", values[i] is { } value ? Encoding.UTF8.GetString(value.Span) : null);
        }
    }

    [Fact]
    public async Task Compression_agreed_in_the_handshake_shrinks_compressible_values_on_the_wire_both_ways()
    {
        await using var server = TestServer.Start();
        var options = new PeerClientOptions { RequestTimeout = TimeSpan.FromSeconds(5), CompressAbove = 4096 };
        await using var compressing = new PeerClient(new IPEndPoint(IPAddress.Loopback, server.Port), options);
        await using var plain = Client(server);
        var text = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("a sample that compresses well; ", 4000)));
        var noise = new byte[100_000];
        new Random(9).NextBytes(noise);
        byte[] small = [7, 7, 7];
        var results = await compressing.SetManyAsync([new(Key("text"), text), new(Key("noise"), noise), new(Key("small"), small)]);
        Assert.All(results, r => Assert.Equal(SetResult.Added, r));

        // Stored as the bytes themselves, whatever travelled.
        Assert.True(server.Node.Store.TryGet("text"u8, out var stored));
        Assert.Equal(text, stored.ToArray());

        var before = compressing.BytesReceived;
        var values = await compressing.GetManyAsync([Key("text"), Key("noise"), Key("missing"), Key("small")]);
        var compressedBytes = compressing.BytesReceived - before;
        Assert.Equal(text, values![0]!.Value.ToArray());
        Assert.Equal(noise, values[1]!.Value.ToArray());
        Assert.Null(values[2]);
        Assert.Equal(small, values[3]!.Value.ToArray());

        var plainValues = await plain.GetManyAsync([Key("text"), Key("noise"), Key("missing"), Key("small")]);
        Assert.Equal(text, plainValues![0]!.Value.ToArray());
        var plainBytes = plain.BytesReceived;
        Assert.True(compressedBytes < noise.Length + (text.Length / 4), $"{compressedBytes} bytes received with compression");
        Assert.True(plainBytes > noise.Length + text.Length, $"{plainBytes} bytes received without");
    }

    [Fact]
    public void A_negative_compression_threshold_is_refused_by_name()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new PeerClient(new IPEndPoint(IPAddress.Loopback, 1), new PeerClientOptions { CompressAbove = -1 }));
        Assert.Equal("CompressAbove", ex.ParamName);
    }

    [Fact]
    public async Task Count_and_clear_act_on_a_prefix()
    {
        await using var server = TestServer.Start();
        await using var client = Client(server);
        await client.SetManyAsync(Enumerable.Range(0, 10).Select(i => new KeyValuePair<StoreKey, byte[]>(Key($"ds:{i}"), [1])).Append(new(Key("other"), [2])).ToList());
        Assert.Equal(10, await client.CountKeysAsync(Encoding.UTF8.GetBytes("ds:")));
        Assert.Equal(10, await client.RemoveKeysAsync(Encoding.UTF8.GetBytes("ds:")));
        Assert.Equal(0, await client.CountKeysAsync(Encoding.UTF8.GetBytes("ds:")));
        Assert.Equal(1, server.Node.Store.Count);
    }

    [Fact]
    public async Task Many_concurrent_requests_on_one_connection_get_their_own_answers()
    {
        await using var server = TestServer.Start();
        await using var client = Client(server);
        await client.SetManyAsync(Enumerable.Range(0, 200).Select(i => new KeyValuePair<StoreKey, byte[]>(Key($"k{i}"), Encoding.UTF8.GetBytes($"v{i}"))).ToList());
        var reads = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => client.GetManyAsync([Key($"k{i}")])));
        for (var i = 0; i < reads.Length; i++)
        {
            Assert.Equal($"v{i}", Encoding.UTF8.GetString(reads[i]![0]!.Value.Span));
        }
    }

    [Fact]
    public async Task A_node_with_the_wrong_secret_is_refused_and_the_right_one_accepted()
    {
        await using var server = TestServer.Start(new PeerServerOptions { Secret = "s3cret" });
        await using (var wrong = Client(server, secret: "guess"))
        {
            await Assert.ThrowsAsync<PeerRefusedException>(() => wrong.ConnectAsync());
            Assert.Null(await wrong.GetManyAsync([Key("k")]));
        }

        await using (var none = Client(server))
        {
            await Assert.ThrowsAsync<PeerRefusedException>(() => none.ConnectAsync());
        }

        await using var right = Client(server, secret: "s3cret");
        await right.ConnectAsync();
        Assert.Equal([SetResult.Added], await right.SetManyAsync([new(Key("k"), [9])]));
    }

    [Fact]
    public async Task A_node_of_another_cluster_is_refused()
    {
        await using var server = TestServer.Start(new PeerServerOptions { ClusterId = "job-1" });
        await using var client = Client(server, cluster: "job-2");
        var ex = await Assert.ThrowsAsync<PeerRefusedException>(() => client.ConnectAsync());
        Assert.Contains("another cluster", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_frame_closes_that_connection_only()
    {
        await using var server = TestServer.Start();
        using var socket = await server.ConnectAsync();
        await socket.SendAsync(PeerFrame.Preamble.ToArray(), SocketFlags.None);
        var header = new byte[PeerFrame.HeaderLength];
        PeerFrame.WriteHeader(header, int.MaxValue, PeerOp.Hello, 1);
        await socket.SendAsync(header, SocketFlags.None);
        var buffer = new byte[1024];
        var total = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        int n;
        while ((n = await socket.ReceiveAsync(buffer.AsMemory(total), SocketFlags.None, timeout.Token)) > 0)
        {
            total += n;
        }

        Assert.True(PeerFrame.TryReadHeader(buffer.AsSpan(0, total), out _, out var op, out _));
        Assert.Equal(PeerOp.Error, op);

        await using var client = Client(server);
        Assert.True(await client.PingAsync());
    }

    [Fact]
    public async Task A_dead_peer_is_a_miss_and_is_skipped_after_repeated_failures()
    {
        var port = FreePort.Next();

        await using var client = new PeerClient(new IPEndPoint(IPAddress.Loopback, port), new PeerClientOptions { BreakerThreshold = 2, BreakerWindow = TimeSpan.FromMinutes(1) });
        Assert.Null(await client.GetManyAsync([Key("k")]));
        Assert.Equal([SetResult.Failed], await client.SetManyAsync([new(Key("k"), [1])]));
        Assert.True(client.Breaker.IsOpen);
        Assert.Null(await client.GetManyAsync([Key("k")]));
    }

    [Fact]
    public async Task A_peer_killed_while_requests_are_pending_fails_them_without_exceptions()
    {
        var server = TestServer.Start();
        await using var client = Client(server);
        await client.SetManyAsync([new(Key("k"), [1])]);
        Assert.NotNull(await client.GetManyAsync([Key("k")]));
        await server.DisposeAsync();
        Assert.Null(await client.GetManyAsync([Key("k")]));
    }
}
