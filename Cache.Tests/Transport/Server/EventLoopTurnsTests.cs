using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Cache.Transport.Server;

namespace Cache.Tests.Transport.Server;

public class EventLoopTurnsTests
{
    private static EventLoopTurns CreateTurns()
    {
        var turns = EventLoopTurns.TryCreate();
        Assert.NotNull(turns);
        return turns;
    }

    [Fact]
    public async Task A_waiter_that_yields_again_while_it_is_resumed_waits_for_the_next_round()
    {
        using var turns = CreateTurns();
        var roundsWhenResumed = new List<long>();
        Task? again = null;

        // The continuation runs synchronously in the round that resumes it, as a connection's pump does.
        await turns.NextTurnAsync().ContinueWith(
            _ =>
            {
                roundsWhenResumed.Add(turns.Rounds);
                again = turns.NextTurnAsync().ContinueWith(_ => roundsWhenResumed.Add(turns.Rounds), TaskContinuationOptions.ExecuteSynchronously);
            },
            TaskContinuationOptions.ExecuteSynchronously);
        await again!.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(2, roundsWhenResumed.Count);
        Assert.True(roundsWhenResumed[1] > roundsWhenResumed[0], $"resumed in rounds {roundsWhenResumed[0]} and {roundsWhenResumed[1]}: the second yield ran in the round that resumed the first");
        Assert.Equal(2, turns.Yields);

        // The next round's byte went out only after its receive was posted, so that receive completed from epoll.
        Assert.Equal(0, turns.WakesAtOnce);
    }

    [Fact]
    public async Task Every_waiter_of_a_burst_is_resumed_in_at_most_as_many_rounds()
    {
        using var turns = CreateTurns();
        var resumed = new int[200];
        var waiters = Enumerable.Range(0, resumed.Length)
            .Select(i => turns.NextTurnAsync().ContinueWith(_ => Interlocked.Increment(ref resumed[i]), TaskContinuationOptions.ExecuteSynchronously))
            .ToArray();

        await Task.WhenAll(waiters).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.All(resumed, count => Assert.Equal(1, count));
        Assert.InRange(turns.Rounds, 1, resumed.Length);
    }

    [Fact]
    public async Task After_disposal_a_turn_is_given_at_once()
    {
        var turns = CreateTurns();
        turns.Dispose();

        var turn = turns.NextTurnAsync();

        Assert.True(turn.IsCompletedSuccessfully);
        await turn;
    }

    [Fact]
    public async Task A_connection_whose_bytes_are_all_there_gives_up_the_thread_every_few_receives_and_loses_nothing()
    {
        using var turns = CreateTurns();
        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);

        // Room in the kernel for everything sent, so that it is all there before the pump starts.
        listener.ReceiveBufferSize = 4 << 20;
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        using var client = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        using var accepted = await listener.AcceptAsync();

        // Two turns' worth of the pump's 8 KB receives already queued in the kernel: they all complete at once, as
        // a pipelining client on another core keeps them.
        var sent = new byte[EventLoopTurns.ReceivesPerTurn * 2 * 8192];
        new Random(3).NextBytes(sent);
        Assert.Equal(sent.Length, client.Send(sent));
        client.Shutdown(SocketShutdown.Send);
        Assert.True(SpinWait.SpinUntil(() => accepted.Available >= sent.Length, TimeSpan.FromSeconds(10)), $"only {accepted.Available} bytes arrived");

        var pipe = new Pipe(new PipeOptions(minimumSegmentSize: 4096, pauseWriterThreshold: 0, useSynchronizationContext: false));
        await SocketPumps.ReceiveAsync(accepted, pipe.Writer, turns).WaitAsync(TimeSpan.FromSeconds(10));

        var result = await pipe.Reader.ReadAsync();
        Assert.True(result.IsCompleted);
        Assert.Equal(sent, result.Buffer.ToArray());
        Assert.True(turns.Yields >= 1, $"{turns.Yields} turns given up over {sent.Length / 8192} receives that completed at once");
    }
}
