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
        if (_buffer.Capacity > KeepBufferUpTo)
        {
            Renew();
        }

        if (ForwardedCommand.TryDecodeTransaction(payload, _maxArguments, out var transactionProtocol, out var transaction))
        {
            // EXEC of a transaction whose keys are all this member's, forwarded as one unit.
            _buffer.ResetWrittenCount();
            _writer.Protocol = transactionProtocol;
            _session.RunQueued(transaction);
            RenewAfterOverflow(transactionProtocol);
            reply = _buffer.WrittenSpan;
            return true;
        }

        if (!ForwardedCommand.TryDecode(payload, _maxArguments, ref _ranges, out var protocol, out var count))
        {
            return false;
        }

        _buffer.ResetWrittenCount();
        _writer.Protocol = protocol;
        var args = new CommandArgs(payload, _ranges.AsSpan(0, count));
        if (!RespSession.HasKeys(args) && !RespSession.IsKeyspaceWide(args))
        {
            // Connection and server commands concern the member a client is connected to; only key commands travel,
            // and the keyspace commands a member answers for the whole mesh by asking every other member.
            _writer.Error("ERR only commands on keys are forwarded to their owner");
        }
        else
        {
            _session.Execute(args);
            RenewAfterOverflow(protocol);
        }

        reply = _buffer.WrittenSpan;
        return true;
    }

    /// <summary>After a reply past the output limit: the session stops at the limit and its state is spent, so the next command gets a fresh one, and this one an error.</summary>
    private void RenewAfterOverflow(int protocol)
    {
        if (_session.OutputOverflowed)
        {
            Renew();
            _writer.Protocol = protocol;
            _writer.Error("ERR the reply is larger than the client output buffer limit");
        }
    }

    private void Renew()
    {
        _buffer = new ArrayBufferWriter<byte>(256);
        _writer = new RespWriter(_buffer);
        _session = new RespSession(_server, _writer, new ClientInfo(0, null, null, _server.Store.NowUnixMs), owner: true);
    }
}
