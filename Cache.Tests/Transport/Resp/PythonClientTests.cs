using System.Diagnostics;
using Cache.Tests.Support;

namespace Cache.Tests.Transport.Resp;

/// <summary>redis-py (Debian's python3-redis) as a Python trainer would use it: against a node, and through one member of a 3-node mesh.</summary>
public class PythonClientTests
{
    private const string Python = "/usr/bin/python3";

    private const string Script = """
        import sys, threading, redis
        node, member = int(sys.argv[1]), int(sys.argv[2])

        r = redis.Redis(port=node)
        # A transactional pipeline (redis-py's default): MULTI ... EXEC.
        with r.pipeline() as p:
            p.set("a", 1).incr("a").get("a")
            assert p.execute() == [True, 2, b"2"], "transactional pipeline"
        # A plain pipeline.
        with r.pipeline(transaction=False) as p:
            for i in range(100):
                p.set(f"k:{i}", i)
            assert all(p.execute()), "plain pipeline"
        # WATCH: a change by another client makes EXEC fail.
        other = redis.Redis(port=node)
        with r.pipeline() as p:
            p.watch("a")
            other.set("a", 10)
            p.multi()
            p.set("a", 20)
            try:
                p.execute()
                raise AssertionError("EXEC should have failed")
            except redis.WatchError:
                pass
        assert r.get("a") == b"10"
        # SCAN iteration.
        assert sorted(r.scan_iter(match="k:*", count=7)) == sorted(f"k:{i}".encode() for i in range(100)), "scan_iter"
        # MONITOR.
        with r.monitor() as m:
            other.get("k:1")
            for event in m.listen():
                if event["command"] == "GET k:1":
                    break

        # One member of a mesh: the whole cache.
        c = redis.Redis(port=member)
        c.flushdb()
        with c.pipeline(transaction=False) as p:
            for i in range(500):
                p.set(f"ds:{i}", i)
            p.execute()
        assert c.dbsize() == 500, c.dbsize()
        seen = list(c.scan_iter(match="ds:*", count=11))
        assert len(seen) == 500 and len(set(seen)) == 500, len(seen)
        c.flushdb()
        for port in sys.argv[3:]:
            assert redis.Redis(port=int(port)).execute_command("READONLY") and redis.Redis(port=int(port)).dbsize() == 0
        print("ok")
        """;

    [RequiresPackageFact(Python, "python3-redis", pythonModule: "redis")]
    [Trait("Category", "Slow")]
    public async Task Redis_py_pipelines_watch_scan_monitor_and_a_mesh_member_as_one_cache()
    {
        await using var node = TestServer.Start();
        await using var mesh = TestMesh.Start(3);
        var script = Path.Combine(Path.GetTempPath(), $"redis-py-{Guid.NewGuid():N}.py");
        await File.WriteAllTextAsync(script, Script);
        try
        {
            var info = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
            info.ArgumentList.Add(script);
            info.ArgumentList.Add(node.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
            info.ArgumentList.Add(mesh.Servers[1].EndPoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
            foreach (var server in mesh.Servers)
            {
                info.ArgumentList.Add(server.EndPoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            using var process = Process.Start(info)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            finally
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                }
            }

            Assert.True(process.ExitCode == 0, await output + await error);
            Assert.Equal("ok", (await output).Trim());

            // FLUSHDB through the member left nothing readable on any member.
            Assert.All(mesh.Nodes, n => Assert.Equal(0L, n.Store.Count));
        }
        finally
        {
            File.Delete(script);
        }
    }
}
