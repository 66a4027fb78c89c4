namespace Cache.Transport.Peer;

/// <summary>The peer refused the handshake (another cluster, another protocol version, a wrong secret).</summary>
public sealed class PeerRefusedException(string message) : Exception(message);
