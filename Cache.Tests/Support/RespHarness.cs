using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Cache.Engine;
using Cache.Transport;
using Cache.Transport.Resp;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cache.Tests.Support;

/// <summary>Drives one RESP connection over in-memory pipes: no sockets, any fragmentation.</summary>
internal sealed class RespHarness : IAsyncDisposable
{
    private readonly Pipe _input = new(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
    private readonly Pipe _output;
    private readonly CacheNode? _ownedNode;
    private ReadOnlySequence<byte> _pending;

    /// <summary>A second client of the same server as <paramref name="sameServer"/>: one client list, one set of counters.</summary>
    public RespHarness(RespHarness sameServer, long outputPauseThreshold = 0)
        : this(node: sameServer.Node, context: sameServer.Context, remote: new IPEndPoint(IPAddress.Loopback, 50001 + (int)sameServer.Context.NextClientId()), outputPauseThreshold: outputPauseThreshold)
    {
    }

    public RespHarness(PeerServerOptions? options = null, CacheNode? node = null, EndPoint? remote = null, long capacity = 64 << 20, AdmissionPolicy policy = AdmissionPolicy.Retain, ServerContext? context = null, long outputPauseThreshold = 0, TimeProvider? time = null)
    {
        _output = new Pipe(new PipeOptions(pauseWriterThreshold: outputPauseThreshold, resumeWriterThreshold: outputPauseThreshold / 2, useSynchronizationContext: false));
        if (node is null)
        {
            _ownedNode = node = new CacheNode(new CacheNodeOptions { Capacity = capacity, Policy = policy, TimeProvider = time ?? TimeProvider.System });
        }

        Node = node;
        Context = context ?? new ServerContext(node, (options ?? new PeerServerOptions()).ToRespSettings());
        var client = new ClientInfo(Context.NextClientId(), remote ?? new IPEndPoint(IPAddress.Loopback, 50000), new IPEndPoint(IPAddress.Loopback, 7379), Context.Store.NowUnixMs);
        Context.Clients[client.Id] = client;
        Connection = new RespConnection(Context, _output.Writer, client, NullLogger.Instance);
        Running = Task.Run(async () =>
        {
            try
            {
                await Connection.RunAsync(_input.Reader);
            }
            finally
            {
                await _output.Writer.CompleteAsync();
            }
        });
    }

    public CacheNode Node { get; }

    public BlockStore Store => Node.Store;

    internal ServerContext Context { get; }

    internal RespConnection Connection { get; }

    /// <summary>Completes when the server side ends the connection.</summary>
    public Task Running { get; }

    public async Task SendAsync(ReadOnlyMemory<byte> bytes)
    {
        await _input.Writer.WriteAsync(bytes);
    }

    public Task SendAsync(string text) => SendAsync(System.Text.Encoding.UTF8.GetBytes(text));

    public async Task<object?> ReadAsync() => (await ReadOneAsync()).Reply;

    /// <summary>Reads one reply and returns it exactly as sent (UTF-8), for assertions on its RESP types.</summary>
    public async Task<string> ReadReplyTextAsync() => (await ReadOneAsync()).Text;

    private async Task<(object? Reply, string Text)> ReadOneAsync()
    {
        while (true)
        {
            if (!_pending.IsEmpty)
            {
                var buffer = _pending;
                if (RespReply.TryParse(ref buffer, out var reply))
                {
                    var text = System.Text.Encoding.UTF8.GetString(_pending.Slice(0, _pending.Length - buffer.Length).ToArray());
                    _pending = buffer;
                    return (reply, text);
                }
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var result = await _output.Reader.ReadAsync(timeout.Token);
            var copy = result.Buffer.ToArray();
            _output.Reader.AdvanceTo(result.Buffer.End);
            _pending = new ReadOnlySequence<byte>([.. _pending.ToArray(), .. copy]);
            if (result.IsCompleted && copy.Length == 0)
            {
                throw new EndOfStreamException("The server closed the connection.");
            }
        }
    }

    /// <summary>Sends one command and reads its reply.</summary>
    /// <summary>Whatever reply bytes have arrived (at least one), as text, unparsed.</summary>
    public async Task<string> ReadRawAsync()
    {
        if (_pending.IsEmpty)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var result = await _output.Reader.ReadAsync(timeout.Token);
            _pending = new ReadOnlySequence<byte>(result.Buffer.ToArray());
            _output.Reader.AdvanceTo(result.Buffer.End);
        }

        var text = System.Text.Encoding.UTF8.GetString(_pending.ToArray());
        _pending = default;
        return text;
    }

    /// <summary>Sends one command and returns its reply exactly as sent (UTF-8), for assertions on its RESP types.</summary>
    public async Task<string> RunRawAsync(params string[] args)
    {
        await SendAsync(RespReply.Command(args));
        return await ReadReplyTextAsync();
    }

    public async Task<object?> RunAsync(params string[] args)
    {
        await SendAsync(RespReply.Command(args));
        return await ReadAsync();
    }

    /// <summary>True once the server has closed its side and every reply has been read.</summary>
    public async Task<bool> IsClosedAsync()
    {
        var ended = await Task.WhenAny(Running, Task.Delay(TimeSpan.FromSeconds(10))) == Running;
        return ended;
    }

    public async ValueTask DisposeAsync()
    {
        await _input.Writer.CompleteAsync();
        await Task.WhenAny(Running, Task.Delay(TimeSpan.FromSeconds(5)));
        _ownedNode?.Dispose();
    }
}
