using System.Text;
using Cache.Engine;
using Cache.Transport.Peer;

namespace Cache.Tests.Transport.Peer;

public class PeerFrameBuilderTests
{
    private static List<KeyValuePair<StoreKey, byte[]>> Entries(int count, int valueLength)
    {
        var random = new Random(count * 31 + valueLength);
        return [.. Enumerable.Range(0, count).Select(i =>
        {
            var value = new byte[valueLength + i];
            random.NextBytes(value);
            return new KeyValuePair<StoreKey, byte[]>(StoreKey.Copy(Encoding.ASCII.GetBytes($"set:{i}")), value);
        })];
    }

    [Theory]
    [InlineData(1, 10)]
    [InlineData(16, 16 * 1024)]
    [InlineData(3, 300 * 1024)]
    [InlineData(5, 300 * 1024)]
    public void A_pooled_builder_writes_the_same_frame_as_a_plain_one(int count, int valueLength)
    {
        var entries = Entries(count, valueLength);
        var plain = new PeerFrameBuilder().Start(PeerOp.Set, 9);
        PeerClient.WriteSetRequest(plain, entries, compressAbove: 0);
        var pooled = new PeerFrameBuilder(pooled: true).Start(PeerOp.Set, 9);
        PeerClient.WriteSetRequest(pooled, entries, compressAbove: 0);

        var frame = pooled.Finish().ToArray();
        Assert.Equal(plain.Finish().ToArray(), frame);
        Assert.True(PeerFrame.TryReadHeader(frame, out var length, out var op, out var id));
        Assert.Equal((PeerOp.Set, 9u, frame.Length - PeerFrame.HeaderLength), (op, id, length));
        pooled.Release();
    }

    [Fact]
    public void A_builder_grows_past_its_reservation_and_keeps_what_it_wrote()
    {
        var builder = new PeerFrameBuilder(pooled: true).Start(PeerOp.Get, 1).Reserve(8);
        var tail = Enumerable.Range(0, 5000).Select(i => (byte)i).ToArray();
        builder.Int32(123).Int64(-5).Byte(7).Bytes(tail);

        var frame = builder.Finish().ToArray();
        var payload = new PeerPayloadReader(frame.AsSpan(PeerFrame.HeaderLength));
        Assert.True(payload.TryReadInt32(out var first) && first == 123);
        Assert.True(payload.TryReadInt64(out var second) && second == -5);
        Assert.True(payload.TryReadByte(out var third) && third == 7);
        Assert.True(payload.TryReadBytes(out var bytes));
        Assert.Equal(tail, bytes.ToArray());
        builder.Release();
    }

    [Fact]
    public void A_released_builder_starts_a_new_frame_from_nothing()
    {
        var builder = new PeerFrameBuilder(pooled: true).Start(PeerOp.Set, 1);
        PeerClient.WriteSetRequest(builder, Entries(4, 1000), compressAbove: 0);
        builder.Release();

        var frame = builder.Start(PeerOp.Ping, 2).Finish().ToArray();
        Assert.Equal(PeerFrame.HeaderLength, frame.Length);
        Assert.True(PeerFrame.TryReadHeader(frame, out var length, out var op, out var id));
        Assert.Equal((PeerOp.Ping, 2u, 0), (op, id, length));
    }
}
