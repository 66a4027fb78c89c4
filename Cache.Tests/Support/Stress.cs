namespace Cache.Tests.Support;

/// <summary>Runs workers on threads of their own, all at once, for a while.</summary>
internal static class Stress
{
    /// <summary>
    /// Starts one thread per worker and stops them after <paramref name="duration"/>: each worker loops
    /// while the function it is given returns true. Returns once every thread has ended.
    /// </summary>
    public static void Run(TimeSpan duration, params IEnumerable<Action<Func<bool>>> workers)
    {
        var stop = 0;
        bool Running() => Volatile.Read(ref stop) == 0;
        var threads = workers.Select(worker => new Thread(() => worker(Running))).ToList();
        threads.ForEach(t => t.Start());
        Thread.Sleep(duration);
        Volatile.Write(ref stop, 1);
        threads.ForEach(t => t.Join());
    }
}
