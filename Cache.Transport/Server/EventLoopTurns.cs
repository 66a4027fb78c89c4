using System.Net.Sockets;

namespace Cache.Transport.Server;

/// <summary>
/// Takes turns on the socket event thread, as Redis's event loop gives each readable client one read per round.
/// </summary>
/// <remarks>
/// <para>
/// Why: the node runs socket completions inline on .NET's one epoll thread (see cache-node's Program.cs), and a
/// receive whose bytes are already there completes at once, so a connection whose client answers each reply with
/// its next pipelined batch within microseconds (redis-benchmark <c>-P 64</c> on the other core, a peer streaming
/// batches) kept that thread in its own read loop: the thread never went back to epoll and every other connection
/// waited. Traced with <c>perf trace</c> during a 6.2M-key fill: 265 receives in a row on one connection while a
/// PING on another waited 80 ms; in the worst fills, 224 ms.
/// </para>
/// <para>
/// How: a connection that has had <see cref="ReceivesPerTurn"/> receives in a row complete at once calls
/// <see cref="NextTurnAsync"/> and is resumed by the completion of a receive on an internal socket pair, which the
/// event thread handles beside the other sockets that became ready meanwhile: it goes on after them, not before.
/// One byte is written per round however many connections wait; the waiters of a round resume in the order they
/// came, and one that yields again while being resumed waits for the next round. Only for inline completions on
/// one event thread (the listener creates turns only then): without them, a round's waiters would all resume, and
/// run their commands, one after another on the one thread that received the wake-up, losing the pool's parallelism.
/// </para>
/// <para>
/// Thread-safe. Disposing, or the socket pair failing, resumes every waiter at once and makes later calls return
/// completed tasks: a connection never waits on a turn that cannot come.
/// </para>
/// </remarks>
internal sealed class EventLoopTurns : IDisposable
{
    /// <summary>Receives in a row that completed at once after which a connection gives up the event thread.</summary>
    /// <remarks>
    /// A receive of 64 pipelined SETs takes about 0.1 ms to execute, so a turn stays under a millisecond. Chosen by
    /// measurement (full `perf scale` runs, three each): 4 per turn gave 6.2M-key fills' worst PING stalls of
    /// 14-35 ms (p99 4.4-4.7 ms) and LRU eviction's 20-26 ms; 16 gave 34-52 ms (p99 7.6-10.8 ms) and 56-65 ms.
    /// GET -P 16 -c 50 and SET -P 64 -c 8 against no turns at all (medians of 3): no difference beyond the runs'
    /// noise for GET, SET about 5% slower with 4.
    /// </remarks>
    public const int ReceivesPerTurn = 4;

    private static readonly byte[] Signal = [1];

    private readonly Socket _signal;
    private readonly Socket _wake;
    private readonly Lock _gate = new();
    private List<TaskCompletionSource> _waiting = [];
    private List<TaskCompletionSource> _resuming = [];
    private bool _signalled;
    private long _yields;
    private long _rounds;
    private long _wakesAtOnce;
    private bool _disposed;

    private EventLoopTurns(Socket signal, Socket wake)
    {
        _signal = signal;
        _wake = wake;
        // Ends when the pair is closed; it catches its own errors.
        _ = RunAsync();
    }

    /// <summary>Rounds the event loop has handed out (for tests and diagnostics).</summary>
    public long Rounds => Volatile.Read(ref _rounds);

    /// <summary>Wake-up receives that completed as soon as they were posted (for tests): none should, or the loop kept the thread.</summary>
    public long WakesAtOnce => Volatile.Read(ref _wakesAtOnce);

    /// <summary>Turns given up so far.</summary>
    public long Yields => Interlocked.Read(ref _yields);

    /// <summary>
    /// Creates the turns over a connected pair of Unix domain sockets (no port, no network namespace's loopback
    /// needed), or returns null where the system cannot make one: connections then keep the thread as before.
    /// </summary>
    public static EventLoopTurns? TryCreate()
    {
        var path = OperatingSystem.IsLinux()
            ? "\0cache-turns-" + Guid.NewGuid().ToString("N")
            : Path.Combine(Path.GetTempPath(), "cache-turns-" + Guid.NewGuid().ToString("N")[..12]);
        Socket? listener = null;
        Socket? signal = null;
        try
        {
            var endPoint = new UnixDomainSocketEndPoint(path);
            listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(endPoint);
            listener.Listen(1);
            signal = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            signal.Connect(endPoint);
            var wake = listener.Accept();
            return new EventLoopTurns(signal, wake);
        }
        catch (Exception ex) when (ex is SocketException or PlatformNotSupportedException or IOException or UnauthorizedAccessException)
        {
            signal?.Dispose();
            return null;
        }
        finally
        {
            listener?.Dispose();
            if (!OperatingSystem.IsLinux())
            {
                try
                {
                    File.Delete(path);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                }
            }
        }
    }

    /// <summary>
    /// Completes after the event thread has handled the sockets that are ready now. The continuation runs on that
    /// thread (or, without inline completions, on the pool thread that handled the wake-up).
    /// </summary>
    public Task NextTurnAsync()
    {
        // Continuations run where SetResult is called: on the thread that received the wake-up byte.
        var waiter = new TaskCompletionSource();
        bool send;
        lock (_gate)
        {
            if (_disposed)
            {
                return Task.CompletedTask;
            }

            _waiting.Add(waiter);
            send = !_signalled;
            _signalled = true;
        }

        Interlocked.Increment(ref _yields);
        if (send)
        {
            Send();
        }

        return waiter.Task;
    }

    /// <summary>Resumes every waiter and closes the socket pair.</summary>
    public void Dispose() => Fail();

    /// <summary>Ends the turns for good: no later call waits, and everyone waiting now is resumed.</summary>
    private void Fail()
    {
        lock (_gate)
        {
            _disposed = true;
        }

        _signal.Dispose();
        _wake.Dispose();
        Release();
    }

    private async Task RunAsync()
    {
        try
        {
            await RoundsAsync().ConfigureAwait(false);
        }
        finally
        {
            // However the loop ended, nobody may wait for a round it will not hand out.
            Fail();
        }
    }

    private async Task RoundsAsync()
    {
        var buffer = new byte[64];
        var receiving = _wake.ReceiveAsync(buffer, SocketFlags.None);
        while (true)
        {
            int received;
            try
            {
                // Not on the creator's synchronization context: rounds belong to the thread that receives the byte.
                received = await receiving.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                return;
            }

            if (received == 0)
            {
                return;
            }

            // While this round's waiters run, the signal stays set: one that yields again only joins the list,
            // and no byte is written that would let the next receive complete at once and keep the thread here.
            List<TaskCompletionSource> ready;
            lock (_gate)
            {
                ready = _waiting;
                _waiting = _resuming;
                _resuming = ready;
            }

            Volatile.Write(ref _rounds, _rounds + 1);
            foreach (var waiter in ready)
            {
                waiter.TrySetResult();
            }

            ready.Clear();

            // The next receive is pending before the next round's byte goes out, so it completes from epoll,
            // after the sockets that became ready meanwhile.
            try
            {
                receiving = _wake.ReceiveAsync(buffer, SocketFlags.None);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                return;
            }

            if (receiving.IsCompleted)
            {
                Interlocked.Increment(ref _wakesAtOnce);
            }

            bool send;
            lock (_gate)
            {
                send = _waiting.Count > 0;
                _signalled = send;
            }

            if (send)
            {
                Send();
            }
        }
    }

    private void Send()
    {
        try
        {
            // One byte into an almost empty socket buffer: never waits.
            _signal.Send(Signal);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            Fail();
        }
    }

    private void Release()
    {
        List<TaskCompletionSource> all;
        lock (_gate)
        {
            all = _waiting;
            _waiting = [];
        }

        foreach (var waiter in all)
        {
            waiter.TrySetResult();
        }
    }
}
