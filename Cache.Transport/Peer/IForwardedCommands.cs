namespace Cache.Transport.Peer;

/// <summary>Runs RESP commands that another member forwarded to this node, the owner of their keys. Thread-safe.</summary>
internal interface IForwardedCommands
{
    /// <summary>A runner for one peer connection. The runner is not thread-safe.</summary>
    IForwardedCommandRunner CreateRunner();
}

/// <summary>Runs encoded forwarded commands one at a time. Not thread-safe: one per connection.</summary>
internal interface IForwardedCommandRunner
{
    /// <summary>Runs an encoded command; the RESP reply is valid until the next call. False when the payload is malformed.</summary>
    bool TryRun(ReadOnlySpan<byte> payload, out ReadOnlySpan<byte> reply);
}
