namespace Cache.Dataset;

/// <summary>How a batched read of <see cref="SampleCache{T}"/> completes and whether it is counted.</summary>
[Flags]
internal enum SampleReads
{
    /// <summary>A caller's read: counted, completed through the thread pool.</summary>
    None = 0,

    /// <summary>The continuation may run on the thread that received the reply (see <c>ICacheBackend.GetManyInlineAsync</c>).</summary>
    CompleteInline = 1,

    /// <summary>Neither hits nor misses are counted: a read ahead of the reader, who counts what it takes.</summary>
    Uncounted = 2,
}
