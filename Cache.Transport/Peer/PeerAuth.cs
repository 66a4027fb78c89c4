using System.Security.Cryptography;
using System.Text;

namespace Cache.Transport.Peer;

/// <summary>
/// Proof of a shared secret without sending it: each side proves it holds the secret with an HMAC-SHA256
/// over both sides' random nonces and a label naming the side, so a proof cannot be replayed or reflected.
/// Stateless; thread-safe.
/// </summary>
internal static class PeerAuth
{
    public const int NonceLength = 16;

    public static byte[] NewNonce() => RandomNumberGenerator.GetBytes(NonceLength);

    public static byte[] Proof(string secret, string side, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        var label = Encoding.ASCII.GetBytes(side);
        var data = new byte[label.Length + first.Length + second.Length];
        label.CopyTo(data, 0);
        first.CopyTo(data.AsSpan(label.Length));
        second.CopyTo(data.AsSpan(label.Length + first.Length));
        return HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), data);
    }

    public static bool Verify(string secret, string side, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, ReadOnlySpan<byte> proof) =>
        CryptographicOperations.FixedTimeEquals(Proof(secret, side, first, second), proof);
}
