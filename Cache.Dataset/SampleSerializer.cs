namespace Cache.Dataset;

/// <summary>Picks a serializer for a sample type.</summary>
public static class SampleSerializer
{
    /// <summary>The options of the default MessagePack serializer: the standard resolver with <see cref="MessagePack.MessagePackSecurity.UntrustedData"/>.</summary>
    public static MessagePack.MessagePackSerializerOptions MessagePackDefaults { get; } =
        MessagePack.MessagePackSerializerOptions.Standard.WithSecurity(MessagePack.MessagePackSecurity.UntrustedData);

    /// <summary>Pass-through for <c>byte[]</c> and <c>ReadOnlyMemory&lt;byte&gt;</c>; MessagePack otherwise.</summary>
    public static ISampleSerializer<T> Default<T>()
    {
        if (typeof(T) == typeof(byte[]))
        {
            return (ISampleSerializer<T>)(object)new ByteArraySampleSerializer();
        }

        if (typeof(T) == typeof(ReadOnlyMemory<byte>))
        {
            return (ISampleSerializer<T>)(object)new ReadOnlyMemorySampleSerializer();
        }

        return new MessagePackSampleSerializer<T>();
    }
}
