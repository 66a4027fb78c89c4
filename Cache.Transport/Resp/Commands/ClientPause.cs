namespace Cache.Transport.Resp.Commands;

/// <summary>
/// CLIENT PAUSE and UNPAUSE, as Redis 7: while a pause lasts, a client's command that it holds (every command
/// under ALL; under WRITE, the commands that write and an EXEC with a queued write) is held, not refused, and
/// runs once the pause ends: at its deadline on the node's clock, or at CLIENT UNPAUSE. A second pause extends
/// the first (the later deadline, the stricter mode win). Thread-safe.
/// </summary>
internal sealed class ClientPause : IDisposable
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private TaskCompletionSource? _ended;
    private PauseMode _mode;
    private long _endUnixMs;
    private bool _stopped;

    public ClientPause(TimeProvider time)
    {
        _time = time;
        _timer = time.CreateTimer(static state => ((ClientPause)state!).EndIfDue(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>What a pause holds.</summary>
    public enum PauseMode
    {
        /// <summary>No pause.</summary>
        None,

        /// <summary>Commands that write (and EXEC of a transaction with one).</summary>
        Write,

        /// <summary>Every command.</summary>
        All,
    }

    /// <summary>The mode in effect now (None once the deadline passed).</summary>
    public PauseMode Mode
    {
        get
        {
            // Read without the lock on every command: a pause is rare, and None is the common answer.
            if (Volatile.Read(ref _ended) is null)
            {
                return PauseMode.None;
            }

            EndIfDue();
            lock (_gate)
            {
                return _mode;
            }
        }
    }

    /// <summary>True when a command that writes (<paramref name="writes"/>) or not must wait now.</summary>
    public bool Holds(bool writes) => Mode switch
    {
        PauseMode.All => true,
        PauseMode.Write => writes,
        _ => false,
    };

    /// <summary>Pauses until <paramref name="endUnixMs"/> (Unix milliseconds on the node's clock), or extends the pause in effect.</summary>
    public void Pause(PauseMode mode, long endUnixMs)
    {
        lock (_gate)
        {
            if (_stopped)
            {
                return;
            }

            _ended ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _mode = (PauseMode)Math.Max((int)_mode, (int)mode);
            _endUnixMs = Math.Max(_endUnixMs, endUnixMs);
            var due = Math.Max(0, _endUnixMs - _time.GetUtcNow().ToUnixTimeMilliseconds());
            _timer.Change(TimeSpan.FromMilliseconds(due), Timeout.InfiniteTimeSpan);
        }

        EndIfDue();
    }

    /// <summary>CLIENT UNPAUSE: ends the pause now; held commands run.</summary>
    public void Unpause()
    {
        TaskCompletionSource? ended;
        lock (_gate)
        {
            ended = _ended;
            _ended = null;
            _mode = PauseMode.None;
            _endUnixMs = 0;
            _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        ended?.TrySetResult();
    }

    /// <summary>Completes when the pause in effect ends (at once when there is none), or when the server stops.</summary>
    public Task WhenEnded()
    {
        lock (_gate)
        {
            return _ended?.Task ?? Task.CompletedTask;
        }
    }

    /// <summary>Wakes every held command to look again (a client was killed), leaving the pause in effect.</summary>
    public void Nudge()
    {
        TaskCompletionSource? woken;
        lock (_gate)
        {
            woken = _ended;
            if (woken is not null)
            {
                _ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        woken?.TrySetResult();
    }

    /// <summary>The server is stopping: no pause holds anything from now on.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _stopped = true;
        }

        Unpause();
        _timer.Dispose();
    }

    private void EndIfDue()
    {
        bool due;
        lock (_gate)
        {
            due = _ended is not null && _time.GetUtcNow().ToUnixTimeMilliseconds() >= _endUnixMs;
        }

        if (due)
        {
            Unpause();
        }
    }
}
