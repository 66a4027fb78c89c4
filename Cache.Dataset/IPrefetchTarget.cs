namespace Cache.Dataset;

/// <summary>
/// Something that can fetch samples ahead of being asked for them: a hint, never a demand.
/// <see cref="DistributedSampler.BindPrefetch"/> hints the indices it is about to hand out.
/// </summary>
/// <remarks>Thread-safety: implementations accept hints from any thread; a hint must return quickly (no I/O on the caller's thread).</remarks>
public interface IPrefetchTarget
{
    /// <summary>Hints that the samples at <paramref name="indices"/> will be asked for soon, in this order. The list is the caller's; an implementation copies what it keeps.</summary>
    void Prefetch(IReadOnlyList<long> indices);
}
