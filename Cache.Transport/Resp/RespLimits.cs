namespace Cache.Transport.Resp;

/// <summary>Limits on what one client may send, each enforced before anything is buffered for it.</summary>
/// <param name="MaxBulkLength">Longest bulk string (Redis's <c>proto-max-bulk-len</c>, default 512 MB).</param>
/// <param name="MaxMultibulkLength">Most elements in one command (Redis: 1,048,576).</param>
/// <param name="MaxInlineLength">Longest inline command or header line (Redis: 64 KB).</param>
internal readonly record struct RespLimits(long MaxBulkLength, int MaxMultibulkLength, int MaxInlineLength)
{
    /// <summary>Redis 7's defaults.</summary>
    public static RespLimits Default { get; } = new(512L * 1024 * 1024, 1024 * 1024, 64 * 1024);
}
