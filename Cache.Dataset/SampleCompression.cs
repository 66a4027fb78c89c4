namespace Cache.Dataset;

/// <summary>Whether samples are compressed in the cache.</summary>
public enum SampleCompression
{
    /// <summary>Store serialized samples as they are.</summary>
    None = 0,

    /// <summary>Compress samples of 512 bytes or more with LZ4 when that saves at least an eighth; incompressible samples stay raw.</summary>
    Lz4 = 1,
}
