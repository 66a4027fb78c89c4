using System.Buffers;
using System.Net;
using System.Text;
using Cache.Tests.Support;
using Cache.Transport;
using Cache.Transport.Resp;

namespace Cache.Tests.Transport.Resp;

/// <summary>The RESP hot path (parse, execute, reply) allocates nothing per GET, and nothing per SET beyond the stored bytes.</summary>
public class RespAllocationTests
{
    private sealed class Driver : IDisposable
    {
        private readonly CacheNode _node = new(new CacheNodeOptions { Capacity = 256L << 20 });
        private readonly RespRequest _request = new();
        private readonly ArrayBufferWriter<byte> _output = new(1 << 20);
        private readonly RespSession _session;
        private readonly ServerContext _context;

        public Driver()
        {
            _context = new ServerContext(_node, new PeerServerOptions().ToRespSettings());
            var client = new ClientInfo(1, new IPEndPoint(IPAddress.Loopback, 1), new IPEndPoint(IPAddress.Loopback, 2), 0);
            _session = new RespSession(_context, new RespWriter(_output), client);
        }

        /// <summary>Parses and executes every command in <paramref name="frames"/>; returns the bytes of replies.</summary>
        public int Run(byte[] frames)
        {
            _output.ResetWrittenCount();
            var offset = 0;
            while (offset < frames.Length)
            {
                var span = frames.AsSpan(offset);
                var status = RespParser.TryParse(span, _request, _context.Limits, true, out var consumed, out _, out _);
                if (status != ParseStatus.Complete)
                {
                    // Not Assert.Equal: the assertion itself would allocate inside the measured loop.
                    throw new InvalidOperationException($"parse failed: {status}");
                }
                _session.Execute(new CommandArgs(span, _request.Args));
                offset += consumed;
            }

            return _output.WrittenCount;
        }

        public void Dispose() => _node.Dispose();
    }

    private static byte[] Batch(int count, Func<int, byte[]> frame) =>
        Enumerable.Range(0, count).SelectMany(frame).ToArray();

    [Fact]
    public void Get_allocates_nothing_per_request()
    {
        using var driver = new Driver();
        var value = new string('v', 1024);
        driver.Run(Batch(100, i => RespReply.Command("SET", $"key:{i:D6}", value)));
        var gets = Batch(100, i => RespReply.Command("GET", $"key:{i:D6}"));
        for (var i = 0; i < 20; i++)
        {
            driver.Run(gets);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            Assert.True(driver.Run(gets) > 100 * 1024);
        }

        var perRequest = (GC.GetAllocatedBytesForCurrentThread() - before) / 10_000.0;
        Assert.True(perRequest < 1, $"GET allocated {perRequest:F1} bytes per request");
    }

    [Fact]
    public void Strlen_and_getrange_leave_a_value_overwritable_in_place()
    {
        using var driver = new Driver();
        var value = new string('v', 1024);
        var sets = Batch(100, i => RespReply.Command("SET", $"key:{i:D6}", value));
        driver.Run(sets);
        driver.Run(Batch(100, i => RespReply.Command("STRLEN", $"key:{i:D6}")));
        driver.Run(Batch(100, i => RespReply.Command("GETRANGE", $"key:{i:D6}", "0", "9")));
        driver.Run(sets);

        // Had either taken a view of the bytes, every SET would have to copy the value into a new array.
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 20; i++)
        {
            driver.Run(sets);
        }

        var perReplace = (GC.GetAllocatedBytesForCurrentThread() - before) / 2_000.0;
        Assert.True(perReplace < 1, $"SET after STRLEN/GETRANGE allocated {perReplace:F1} bytes per request");
    }

    [Fact]
    public void Set_of_a_present_key_allocates_nothing_and_of_a_new_key_little_beyond_the_stored_bytes()
    {
        using var driver = new Driver();
        var value = new string('v', 1024);
        var sets = Batch(100, i => RespReply.Command("SET", $"key:{i:D6}", value));
        driver.Run(sets);
        driver.Run(sets);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            driver.Run(sets);
        }

        var perReplace = (GC.GetAllocatedBytesForCurrentThread() - before) / 10_000.0;
        Assert.True(perReplace < 1, $"SET of a present key allocated {perReplace:F1} bytes per request");

        var fresh = Batch(1000, i => RespReply.Command("SET", $"new:{i:D6}", value));
        before = GC.GetAllocatedBytesForCurrentThread();
        driver.Run(fresh);
        var perInsert = (GC.GetAllocatedBytesForCurrentThread() - before) / 1000.0;

        // The stored bytes (key + value in one array) plus the index's objects for a new key, which the
        // store charges as its per-entry overhead.
        Assert.True(perInsert < 1024 + 10 + 24 + Cache.Engine.BlockStore.EntryOverhead, $"SET of a new key allocated {perInsert:F0} bytes per request");
        Assert.Equal(Encoding.ASCII.GetBytes("+OK\r\n").Length * 100, driver.Run(Batch(100, i => RespReply.Command("SET", $"new:{i:D6}", value))));
    }
}
