using System.Buffers;
using MessagePack;

namespace Cache.Dataset;

/// <summary>
/// The default serializer: MessagePack with <see cref="MessagePackSecurity.UntrustedData"/>, since
/// cached bytes may come from other processes. Thread-safe.
/// </summary>
/// <typeparam name="T">The sample type: anything MessagePack's resolver handles (primitives,
/// arrays, collections, <c>[MessagePackObject]</c> types, or any type with a contractless resolver
/// in <paramref name="options"/>).</typeparam>
/// <param name="options">MessagePack options; default: the standard resolver with <see cref="MessagePackSecurity.UntrustedData"/>.</param>
public sealed class MessagePackSampleSerializer<T>(MessagePackSerializerOptions? options = null) : ISampleSerializer<T>
{
    private readonly MessagePackSerializerOptions _options = options ?? SampleSerializer.MessagePackDefaults;

    /// <inheritdoc />
    public void Serialize(T sample, IBufferWriter<byte> output) => MessagePackSerializer.Serialize(output, sample, _options);

    /// <inheritdoc />
    public T Deserialize(ReadOnlyMemory<byte> data) => MessagePackSerializer.Deserialize<T>(data, _options);
}
