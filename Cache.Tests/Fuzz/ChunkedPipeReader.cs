using System.Buffers;
using System.IO.Pipelines;

namespace Cache.Tests.Fuzz;

/// <summary>
/// A pipe reader that delivers a fixed stream in given chunks, one more chunk per read, synchronously, each
/// chunk a segment of its own; after the last chunk the read reports completion. A connection loop driven by
/// it runs on the calling thread with no timers, so a hang shows as a read count past the bound and
/// allocations can be counted on the thread.
/// </summary>
internal sealed class ChunkedPipeReader(List<byte[]> chunks) : PipeReader
{
    private readonly ReadOnlySequence<byte> _all = HostileInput.Sequence(chunks, chunks.Count);
    private long _consumed;
    private int _revealed;

    /// <summary>Reads served so far.</summary>
    public int Reads { get; private set; }

    /// <summary>True once the connection completed the reader.</summary>
    public bool Completed { get; private set; }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => _consumed = _all.Slice(0, consumed).Length;

    public override void CancelPendingRead()
    {
    }

    public override void Complete(Exception? exception = null) => Completed = true;

    public override bool TryRead(out ReadResult result)
    {
        result = Next();
        return true;
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) => new(Next());

    private ReadResult Next()
    {
        // A reader that keeps reading after completion without consuming would spin: the bound turns that into a failure.
        if (++Reads > chunks.Count + 10_000)
        {
            throw new InvalidOperationException($"The connection read {Reads} times from a stream of {chunks.Count} chunks: it does not make progress.");
        }

        if (_revealed < chunks.Count)
        {
            _revealed++;
        }

        var end = 0L;
        for (var i = 0; i < _revealed; i++)
        {
            end += chunks[i].Length;
        }

        return new ReadResult(_all.Slice(_consumed, end - _consumed), isCanceled: false, isCompleted: _revealed == chunks.Count);
    }
}
