namespace Cache.Dataset;

/// <summary>Whether samples are compressed in the cache.</summary>
public enum SampleCompression
{
    /// <summary>Store serialized samples as they are.</summary>
    None = 0,

    /// <summary>Compress samples of 512 bytes or more with LZ4 when that saves at least an eighth; incompressible samples stay raw.
    /// After 16 samples of a dataset in a row that did not compress, only one in 64 is tried, until one compresses again.</summary>
    Lz4 = 1,
}
