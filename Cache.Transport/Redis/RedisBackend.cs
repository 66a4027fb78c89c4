using System.Text;
using Cache.Engine;
using Cache.Transport.Common;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace Cache.Transport.Redis;

/// <summary>
/// The cache on existing Redis, Redis Cluster or Garnet servers, through StackExchange.Redis. Standalone
/// servers share the 16384 hash slots in equal ranges, in the order of <see cref="RedisBackendOptions.Hosts"/>
/// (the same slots as the peer mesh); a Redis Cluster is detected and routes by itself. Reads and writes are
/// batched (one MGET or MSET per server, servers in parallel). A server that fails or times out is a miss
/// (writes to it are dropped and reported as <see cref="SetResult.Failed"/>) and is skipped for a back-off
/// window by its <see cref="CircuitBreaker"/>. Only a server unreachable at start-up, or a wrong password,
/// throws.
/// </summary>
/// <remarks>Thread-safe. Values returned are new arrays owned by the caller; keys and values passed in are only read.</remarks>
public sealed partial class RedisBackend : ICacheBackend, IDisposable
{
    private const int BatchLimit = 1000;

    private readonly Shard[] _shards;
    private readonly SlotMap? _slots;
    private readonly bool _isCluster;
    private readonly TimeSpan _timeout;
    private readonly ILogger _logger;

    private sealed class Shard(string name, ConnectionMultiplexer connection, CircuitBreaker breaker)
    {
        public string Name { get; } = RedactPassword(name);

        public ConnectionMultiplexer Connection { get; } = connection;

        public IDatabase Database { get; } = connection.GetDatabase();

        public CircuitBreaker Breaker { get; } = breaker;
    }

    /// <summary>Connects to the servers. Throws <see cref="ArgumentException"/> naming a wrong option and
    /// <see cref="InvalidOperationException"/> naming a host that cannot be reached or refuses the password.</summary>
    public RedisBackend(RedisBackendOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Hosts is null || options.Hosts.Count == 0)
        {
            throw new ArgumentException("Hosts must name at least one server.", nameof(options.Hosts));
        }

        if (options.OperationTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options.OperationTimeout), "OperationTimeout must be positive.");
        }

        _logger = (ILogger?)options.LoggerFactory?.CreateLogger<RedisBackend>() ?? NullLogger.Instance;
        _timeout = options.OperationTimeout;
        var hosts = options.ClusterMode ? options.Hosts : [options.Hosts[Math.Abs(options.NodeRank) % options.Hosts.Count]];
        var first = Connect(hosts[0], options);
        _isCluster = first.GetServers().Any(s => s.ServerType == ServerType.Cluster);
        if (_isCluster)
        {
            // A Redis Cluster knows its own layout: one connection, the client routes each key to its owner.
            _shards = [new Shard(string.Join(",", hosts), first, NewBreaker(options))];
        }
        else
        {
            var shards = new List<Shard> { new(hosts[0], first, NewBreaker(options)) };
            try
            {
                for (var i = 1; i < hosts.Count; i++)
                {
                    shards.Add(new Shard(hosts[i], Connect(hosts[i], options), NewBreaker(options)));
                }
            }
            catch
            {
                shards.ForEach(s => s.Connection.Dispose());
                throw;
            }

            _shards = [.. shards];
            _slots = _shards.Length > 1 ? new SlotMap(_shards.Length) : null;
        }

        Description = $"redis {(_isCluster ? "cluster" : "hosts")} {string.Join(", ", _shards.Select(s => s.Name))}";
        if (_logger.IsEnabled(LogLevel.Information))
        {
            LogConnected(_logger, Description);
        }
    }

    /// <inheritdoc />
    public string Description { get; }

    /// <summary>True when the hosts form a Redis Cluster (the client routes keys).</summary>
    public bool IsCluster => _isCluster;

    /// <summary>The shard index a key goes to among standalone hosts (0 for a cluster or one host).</summary>
    public int ShardOf(ReadOnlySpan<byte> key) => _slots?.OwnerOfKey(key) ?? 0;

    /// <inheritdoc />
    public bool TryGet(ReadOnlySpan<byte> key, out ReadOnlyMemory<byte> value)
    {
        var keys = new[] { StoreKey.Copy(key) };
        var values = new ReadOnlyMemory<byte>[1];
        var found = new bool[1];
        GetMany(keys, values, found);
        value = values[0];
        return found[0];
    }

    /// <inheritdoc />
    public void GetMany(ReadOnlySpan<StoreKey> keys, Span<ReadOnlyMemory<byte>> values, Span<bool> found)
    {
        found.Clear();
        var requests = StartGets(keys);
        Wait(requests.Select(r => (Task)r.Task));
        ApplyGets(requests, values, found);
    }

    /// <inheritdoc />
    public async ValueTask GetManyAsync(ReadOnlyMemory<StoreKey> keys, Memory<ReadOnlyMemory<byte>> values, Memory<bool> found, CancellationToken cancellationToken = default)
    {
        found.Span.Clear();
        var requests = StartGets(keys.Span);
        await WaitAsync(requests.Select(r => (Task)r.Task), cancellationToken).ConfigureAwait(false);
        ApplyGets(requests, values.Span, found.Span);
    }

    /// <inheritdoc />
    public async ValueTask SetManyAsync(ReadOnlyMemory<KeyValuePair<StoreKey, byte[]>> entries, Memory<SetResult> results, CancellationToken cancellationToken = default)
    {
        results.Span.Fill(SetResult.Failed);
        var requests = StartSets(entries.Span);
        await WaitAsync(requests.Select(r => (Task)r.Task), cancellationToken).ConfigureAwait(false);
        ApplySets(requests, results.Span);
    }

    private List<(Shard Shard, List<int> Indices, Task<RedisValue[]> Task)> StartGets(ReadOnlySpan<StoreKey> keys)
    {
        var groups = Group(keys.ToArray());
        var requests = new List<(Shard Shard, List<int> Indices, Task<RedisValue[]> Task)>();
        foreach (var (shard, indices) in groups)
        {
            if (!shard.Breaker.AllowRequest())
            {
                continue;
            }

            for (var start = 0; start < indices.Count; start += BatchLimit)
            {
                var slice = indices.GetRange(start, Math.Min(BatchLimit, indices.Count - start));
                var redisKeys = new RedisKey[slice.Count];
                for (var j = 0; j < slice.Count; j++)
                {
                    redisKeys[j] = keys[slice[j]].Memory.ToArray();
                }

                requests.Add((shard, slice, shard.Database.StringGetAsync(redisKeys)));
            }
        }

        return requests;
    }

    private void ApplyGets(List<(Shard Shard, List<int> Indices, Task<RedisValue[]> Task)> requests, Span<ReadOnlyMemory<byte>> values, Span<bool> found)
    {
        foreach (var (shard, indices, task) in requests)
        {
            if (!task.IsCompletedSuccessfully)
            {
                Failed(shard, task);
                continue;
            }

            shard.Breaker.RecordSuccess();
            var results = task.Result;
            for (var j = 0; j < indices.Count; j++)
            {
                var bytes = (byte[]?)results[j];
                if (bytes is not null)
                {
                    values[indices[j]] = bytes;
                    found[indices[j]] = true;
                }
            }
        }
    }

    /// <inheritdoc />
    public void SetMany(ReadOnlySpan<KeyValuePair<StoreKey, byte[]>> entries, Span<SetResult> results)
    {
        results.Fill(SetResult.Failed);
        var requests = StartSets(entries);
        Wait(requests.Select(r => (Task)r.Task));
        ApplySets(requests, results);
    }

    private List<(Shard Shard, List<int> Indices, Task<bool> Task)> StartSets(ReadOnlySpan<KeyValuePair<StoreKey, byte[]>> entries)
    {
        var keys = new StoreKey[entries.Length];
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i] = entries[i].Key;
        }

        var requests = new List<(Shard Shard, List<int> Indices, Task<bool> Task)>();
        foreach (var (shard, indices) in Group(keys))
        {
            if (!shard.Breaker.AllowRequest())
            {
                continue;
            }

            for (var start = 0; start < indices.Count; start += BatchLimit)
            {
                var slice = indices.GetRange(start, Math.Min(BatchLimit, indices.Count - start));
                var pairs = new KeyValuePair<RedisKey, RedisValue>[slice.Count];
                for (var j = 0; j < slice.Count; j++)
                {
                    pairs[j] = new(entries[slice[j]].Key.Memory.ToArray(), entries[slice[j]].Value);
                }

                requests.Add((shard, slice, shard.Database.StringSetAsync(pairs)));
            }
        }

        return requests;
    }

    private void ApplySets(List<(Shard Shard, List<int> Indices, Task<bool> Task)> requests, Span<SetResult> results)
    {
        foreach (var (shard, indices, task) in requests)
        {
            if (!task.IsCompletedSuccessfully || !task.Result)
            {
                Failed(shard, task);
                continue;
            }

            shard.Breaker.RecordSuccess();
            foreach (var i in indices)
            {
                results[i] = SetResult.Added;
            }
        }
    }

    /// <inheritdoc />
    public long CountKeys(ReadOnlySpan<byte> prefix)
    {
        long count = 0;
        var pattern = Pattern(prefix);
        ForEachServer(server =>
        {
            foreach (var unused in server.Keys(pattern: pattern, pageSize: BatchLimit))
            {
                count++;
            }
        });
        return count;
    }

    /// <inheritdoc />
    public async ValueTask<long> CountKeysAsync(ReadOnlyMemory<byte> prefix, CancellationToken cancellationToken = default)
    {
        long count = 0;
        var pattern = Pattern(prefix.Span);
        await ForEachServerAsync(async server =>
        {
            await foreach (var unused in server.KeysAsync(pattern: pattern, pageSize: BatchLimit).WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                count++;
            }
        }).ConfigureAwait(false);
        return count;
    }

    /// <inheritdoc />
    public async ValueTask<long> RemoveKeysAsync(ReadOnlyMemory<byte> prefix, CancellationToken cancellationToken = default)
    {
        long removed = 0;
        var pattern = Pattern(prefix.Span);
        await ForEachServerAsync(async server =>
        {
            var database = server.Multiplexer.GetDatabase();
            var batch = new List<RedisKey>(BatchLimit);
            async Task DeleteAsync()
            {
                // One DEL per key, pipelined: in a cluster the keys of a batch may live in different slots.
                var deletes = batch.Select(k => database.KeyDeleteAsync(k)).ToArray();
                try
                {
                    await Task.WhenAll(deletes).WaitAsync(_timeout * 10, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is TimeoutException or RedisException)
                {
                    // Counted below: only the deletes that completed removed a key.
                }

                removed += deletes.Count(d => d.IsCompletedSuccessfully && d.Result);
                batch.Clear();
            }

            await foreach (var key in server.KeysAsync(pattern: pattern, pageSize: BatchLimit).WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                batch.Add(key);
                if (batch.Count == BatchLimit)
                {
                    await DeleteAsync().ConfigureAwait(false);
                }
            }

            if (batch.Count > 0)
            {
                await DeleteAsync().ConfigureAwait(false);
            }
        }).ConfigureAwait(false);
        return removed;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Synchronous: the keys are listed with StackExchange.Redis's synchronous SCAN, and each batch's deletes are
    /// waited for with <see cref="Task.WaitAll(Task[], TimeSpan)"/>, which StackExchange.Redis's own I/O threads
    /// complete (no pool thread is needed to wake this one). Prefer <see cref="RemoveKeysAsync"/>.
    /// </remarks>
    public long RemoveKeys(ReadOnlySpan<byte> prefix)
    {
        long removed = 0;
        var pattern = Pattern(prefix);
        ForEachServer(server =>
        {
            var database = server.Multiplexer.GetDatabase();
            var batch = new List<RedisKey>(BatchLimit);
            void Delete()
            {
                // One DEL per key, pipelined: in a cluster the keys of a batch may live in different slots.
                var deletes = batch.Select(k => database.KeyDeleteAsync(k)).ToArray();
                Task.WaitAll(deletes, _timeout * 10);
                removed += deletes.Count(d => d.IsCompletedSuccessfully && d.Result);
                batch.Clear();
            }

            foreach (var key in server.Keys(pattern: pattern, pageSize: BatchLimit))
            {
                batch.Add(key);
                if (batch.Count == BatchLimit)
                {
                    Delete();
                }
            }

            if (batch.Count > 0)
            {
                Delete();
            }
        });
        return removed;
    }

    /// <summary>Closes the connections.</summary>
    public void Dispose()
    {
        foreach (var shard in _shards)
        {
            shard.Connection.Dispose();
        }
    }

    private static CircuitBreaker NewBreaker(RedisBackendOptions options) =>
        new(options.BreakerThreshold, options.BreakerWindow, TimeSpan.FromSeconds(30));

    private static ConnectionMultiplexer Connect(string host, RedisBackendOptions options)
    {
        ConfigurationOptions configuration;
        try
        {
            configuration = ConfigurationOptions.Parse(host);
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException($"Hosts entry '{RedactPassword(host)}' is not host:port[,password=...][,ssl=true]: {ex.Message}", nameof(options.Hosts), ex);
        }

        configuration.AbortOnConnectFail = true;
        configuration.ConnectTimeout = (int)options.ConnectTimeout.TotalMilliseconds;
        configuration.AsyncTimeout = (int)options.OperationTimeout.TotalMilliseconds;
        configuration.SyncTimeout = (int)options.OperationTimeout.TotalMilliseconds;
        configuration.ConnectRetry = 1;
        configuration.ClientName ??= "cache-dataset";
        try
        {
            return ConnectionMultiplexer.Connect(configuration);
        }
        catch (RedisConnectionException ex)
        {
            throw new InvalidOperationException($"Cannot use Redis host '{RedactPassword(host)}': {ex.Message}", ex);
        }
    }

    private static string RedactPassword(string host)
    {
        var parts = host.Split(',');
        return string.Join(",", parts.Select(p => p.StartsWith("password=", StringComparison.OrdinalIgnoreCase) ? "password=***" : p));
    }

    /// <summary>A SCAN pattern matching keys that start with <paramref name="prefix"/>, glob characters escaped.</summary>
    private static RedisValue Pattern(ReadOnlySpan<byte> prefix)
    {
        var escaped = new List<byte>(prefix.Length + 4);
        foreach (var b in prefix)
        {
            if (b is (byte)'*' or (byte)'?' or (byte)'[' or (byte)']' or (byte)'\\')
            {
                escaped.Add((byte)'\\');
            }

            escaped.Add(b);
        }

        escaped.Add((byte)'*');
        return escaped.ToArray();
    }

    /// <summary>The keys' indices grouped by the server that holds them; in a cluster, by slot (MGET and MSET need one slot).</summary>
    private List<(Shard Shard, List<int> Indices)> Group(StoreKey[] keys)
    {
        var owners = new int[keys.Length];
        for (var i = 0; i < keys.Length; i++)
        {
            owners[i] = _isCluster ? HashSlot.GetSlot(keys[i].Span) : _slots?.OwnerOfKey(keys[i].Span) ?? 0;
        }

        return [.. OwnerBatch.Group(owners).Select(g => (_shards[_isCluster ? 0 : g.Owner], g.Indices.ToList()))];
    }

    /// <summary>Awaits <paramref name="action"/> on every connected primary of each shard its breaker lets through, in turn; a Redis failure or timeout is recorded on that shard's breaker.</summary>
    private async Task ForEachServerAsync(Func<IServer, Task> action)
    {
        foreach (var shard in _shards)
        {
            if (!shard.Breaker.AllowRequest())
            {
                continue;
            }

            try
            {
                foreach (var server in shard.Connection.GetServers())
                {
                    if (!server.IsReplica && server.IsConnected)
                    {
                        await action(server).ConfigureAwait(false);
                    }
                }

                shard.Breaker.RecordSuccess();
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                shard.Breaker.RecordFailure();
                if (_logger.IsEnabled(LogLevel.Debug))
                {
                    LogServerFailed(_logger, shard.Name, ex);
                }
            }
        }
    }

    private void ForEachServer(Action<IServer> action)
    {
        // The same loop as the asynchronous one: with a synchronous action it runs to the end on this thread and
        // returns a completed task, so GetResult only rethrows what the loop did not handle; it never waits.
        var run = ForEachServerAsync(server =>
        {
            action(server);
            return Task.CompletedTask;
        });
        System.Diagnostics.Debug.Assert(run.IsCompleted, "a synchronous action completes the loop synchronously");
        run.GetAwaiter().GetResult();
    }

    /// <summary>
    /// The synchronous paths' wait (<see cref="GetMany"/>, <see cref="SetMany"/>, for indexers that must be synchronous):
    /// a deliberate wait on the caller's thread for the requests of every shard at once. The tasks are completed by
    /// StackExchange.Redis's own I/O threads, and a blocked <see cref="Task.WaitAll(Task[], TimeSpan)"/> is woken by
    /// them directly, so no thread-pool thread is needed for this one to go on, however saturated the pool is.
    /// </summary>
    private void Wait(IEnumerable<Task> tasks)
    {
        var all = tasks.ToArray();
        try
        {
            Task.WaitAll(all, _timeout + _timeout);
        }
        catch (AggregateException)
        {
            // Each task's outcome is examined by the caller: a failed one is a miss.
        }
    }

    private async Task WaitAsync(IEnumerable<Task> tasks, CancellationToken cancellationToken)
    {
        var all = Task.WhenAll(tasks);
        try
        {
            await all.WaitAsync(_timeout + _timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The requests still running are misses (the caller examines each task).
        }
        catch (Exception ex) when (ex is RedisException || all.IsFaulted || all.IsCanceled)
        {
            // Each task's outcome is examined by the caller: a failed one is a miss.
        }
    }

    private void Failed(Shard shard, Task task)
    {
        shard.Breaker.RecordFailure();
        var error = task.Exception?.GetBaseException();
        LogServerFailed(_logger, shard.Name, error);
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Cache on {Description}")]
    private static partial void LogConnected(ILogger logger, string description);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Debug, Message = "Redis host {Host} failed or timed out; its keys are misses for now")]
    private static partial void LogServerFailed(ILogger logger, string host, Exception? exception);
}
