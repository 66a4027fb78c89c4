namespace Cache.Tests.Support;

/// <summary>
/// Tests that keep every core busy for seconds (stress across many growth steps) run in this collection,
/// after the others and alone: run beside them they starved the tests whose servers answer within a few
/// milliseconds (a key with a 30 ms time to live read back over RESP). The network-fault lab runs here too, for
/// the converse reason: its members must not be starved by the others.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunAlone
{
    public const string Name = "Alone";
}
