using System.Collections.Concurrent;
using System.Security.Cryptography;
using Cache.Engine;
using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>What every connection of one server shares: the store, settings, counters and the client list. Thread-safe.</summary>
internal sealed class ServerContext
{
    private long _nextClientId;

    public ServerContext(IRespHost host, RespServerSettings options)
    {
        Host = host;
        Store = host.Store;
        Options = options;
        Limits = new RespLimits(options.MaxBulkLength, options.MaxMultibulkLength, options.MaxInlineLength);
        RequirePass = string.IsNullOrEmpty(options.RequirePass) ? null : options.RequirePass;
        RunId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));
        StartedAtMs = Store.NowUnixMs;
        Time = host.Time;
        Stats = new CommandStats(Time.TimestampFrequency);
        Latency = new LatencyMonitor(Time);
        Pause = new ClientPause(Time);
    }

    /// <summary>The node's clock: command durations (in its timestamps), the latency monitor, CLIENT PAUSE.</summary>
    public TimeProvider Time { get; }

    /// <summary>LATENCY LATEST, HISTORY, RESET, DOCTOR: the events past <c>latency-monitor-threshold</c>.</summary>
    public LatencyMonitor Latency { get; }

    /// <summary>CLIENT PAUSE / UNPAUSE.</summary>
    public ClientPause Pause { get; }

    /// <summary>The node served: its store, mesh routing and tracked prefixes.</summary>
    public IRespHost Host { get; }

    public BlockStore Store { get; }

    public RespServerSettings Options { get; }

    public RespLimits Limits { get; }

    public string? RequirePass { get; }

    public string RunId { get; }

    public long StartedAtMs { get; }

    public int Port { get; set; }

    public ConcurrentDictionary<long, ClientInfo> Clients { get; } = new();

    public StripedCounter CommandsProcessed { get; } = new();

    /// <summary>Connections holding one of the MaxClients slots.</summary>
    public int ClientSlots;

    public long ConnectionsReceived;

    public long RejectedConnections;

    public long ProtocolErrors;

    /// <summary>Commands per second over the last sampling interval.</summary>
    public long InstantaneousOpsPerSecond { get; set; }

    public long NextClientId() => Interlocked.Increment(ref _nextClientId);

    /// <summary>INFO commandstats and LATENCY HISTOGRAM.</summary>
    public CommandStats Stats { get; }

    public SlowLog SlowLog { get; } = new();

    /// <summary>The store's counters at the last CONFIG RESETSTAT: INFO reports the counts since (the store's own counters, and its metrics, only grow).</summary>
    public StoreStatistics StoreBaseline { get; set; }

    /// <summary>The clients that sent MONITOR.</summary>
    public MonitorHub Monitors { get; } = new();
}
