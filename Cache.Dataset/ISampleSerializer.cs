using System.Buffers;

namespace Cache.Dataset;

/// <summary>Turns samples into bytes and back for the cache.</summary>
/// <typeparam name="T">The sample type.</typeparam>
/// <remarks>
/// Implementations must be thread-safe: loaders call them from many threads. Null samples never
/// reach a serializer: the cache stores them itself.
/// </remarks>
public interface ISampleSerializer<T>
{
    /// <summary>Writes <paramref name="sample"/> (never null) to <paramref name="output"/>.</summary>
    void Serialize(T sample, IBufferWriter<byte> output);

    /// <summary>
    /// Reads a sample back. <paramref name="data"/> belongs to the cache and is immutable: a sample
    /// that must be mutable (such as a <c>byte[]</c>) has to be copied out of it; a read-only view
    /// may keep it. May throw on bytes it cannot read: the cache then counts a corrupt entry and
    /// recomputes the sample.
    /// </summary>
    T Deserialize(ReadOnlyMemory<byte> data);
}
