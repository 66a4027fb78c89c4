using Cache.Transport.Peer;
using Cache.Transport.Resp.Commands;

namespace Cache.Transport.Mesh;

/// <summary>
/// Serves the RESP commands other members forward to this node over the peer protocol, with Resp/'s
/// <see cref="CommandRunner"/>: the seam that lets Peer/ carry them without knowing RESP. Thread-safe.
/// </summary>
internal sealed class ForwardedCommands(ServerContext server) : IForwardedCommands
{
    /// <inheritdoc />
    public IForwardedCommandRunner CreateRunner() => new Runner(new CommandRunner(server));

    private sealed class Runner(CommandRunner runner) : IForwardedCommandRunner
    {
        public bool TryRun(ReadOnlySpan<byte> payload, out ReadOnlySpan<byte> reply) => runner.TryRun(payload, out reply);
    }
}
