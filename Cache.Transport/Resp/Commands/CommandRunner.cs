using System.Buffers;
using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>
/// Runs forwarded commands against this node's store, as the owner of their keys: a session that is
/// authenticated (the sender proved the mesh's secret) and never forwards again, writing into a buffer.
/// Only commands on keys run this way; a reply larger than the client's output limit becomes an error.
/// Not thread-safe: one per peer connection (or per client session, for the part of a split command
/// that is local).
/// </summary>
internal sealed class CommandRunner
{
    /// <summary>A buffer that grew past this for one large reply is dropped afterwards, not kept for the connection's life.</summary>
    private const int KeepBufferUpTo = 1024 * 1024;

    private readonly ServerContext _server;
    private readonly int _maxArguments;
    private ArrayBufferWriter<byte> _buffer = null!;
    private RespWriter _writer = null!;
    private RespSession _session = null!;
    private ArgRange[] _ranges = new ArgRange[8];

    public CommandRunner(ServerContext server)
    {
        _server = server;
        _maxArguments = server.Options.MaxMultibulkLength;
        Renew();
    }

    /// <summary>Runs an encoded command. The reply is valid until the next call. False when the payload is malformed.</summary>
    public bool TryRun(ReadOnlySpan<byte> payload, out ReadOnlySpan<byte> reply)
    {
        reply = default;
        if (!ForwardedCommand.TryDecode(payload, _maxArguments, ref _ranges, out var protocol, out var count))
        {
            return false;
        }

        if (_buffer.Capacity > KeepBufferUpTo)
        {
            Renew();
        }

        _buffer.ResetWrittenCount();
        _writer.Protocol = protocol;
        var args = new CommandArgs(payload, _ranges.AsSpan(0, count));
        if (!RespSession.HasKeys(args))
        {
            // Connection and server commands concern the member a client is connected to; only key commands travel.
            _writer.Error("ERR only commands on keys are forwarded to their owner");
        }
        else
        {
            _session.Execute(args);
            if (_session.OutputOverflowed)
            {
                // The session stops at the limit; its state is spent, so the next command gets a fresh one.
                Renew();
                _writer.Protocol = protocol;
                _writer.Error("ERR the reply is larger than the client output buffer limit");
            }
        }

        reply = _buffer.WrittenSpan;
        return true;
    }

    private void Renew()
    {
        _buffer = new ArrayBufferWriter<byte>(256);
        _writer = new RespWriter(_buffer);
        _session = new RespSession(_server, _writer, new ClientInfo(0, null, null, _server.Store.NowUnixMs), owner: true);
    }
}
