using System.Net;
using Cache.Tests.Support;
using Cache.Transport;
using Cache.Transport.Resp;

namespace Cache.Tests.Transport.Resp;

public class RespSecurityTests
{
    private static readonly Simple Ok = new("OK");

    [Fact]
    public async Task With_requirepass_commands_need_auth_and_a_wrong_password_gets_wrongpass()
    {
        await using var h = new RespHarness(new PeerServerOptions { RequirePass = "s3cret" });
        Assert.Equal(new Error("NOAUTH Authentication required."), await h.RunAsync("GET", "k"));
        Assert.Equal(new Error("NOAUTH Authentication required."), await h.RunAsync("PING"));
        Assert.Equal(new Error("WRONGPASS invalid username-password pair or user is disabled."), await h.RunAsync("AUTH", "nope"));
        Assert.Equal(new Error("WRONGPASS invalid username-password pair or user is disabled."), await h.RunAsync("AUTH", "admin", "s3cret"));
        Assert.Equal(Ok, await h.RunAsync("AUTH", "s3cret"));
        Assert.Equal(Ok, await h.RunAsync("SET", "k", "v"));
        Assert.Equal(new Simple("RESET"), await h.RunAsync("RESET"));
        Assert.Equal(new Error("NOAUTH Authentication required."), await h.RunAsync("GET", "k"));
        Assert.Equal(Ok, await h.RunAsync("AUTH", "default", "s3cret"));
        Assert.Equal("v", await h.RunAsync("GET", "k"));
    }

    [Fact]
    public async Task Hello_can_authenticate_and_refuses_without_auth()
    {
        await using var h = new RespHarness(new PeerServerOptions { RequirePass = "pw" });
        var refused = await h.RunAsync("HELLO", "3");
        Assert.IsType<Error>(refused);
        Assert.StartsWith("NOAUTH HELLO must be called with the client already authenticated", ((Error)refused!).Text, StringComparison.Ordinal);
        Assert.Equal(new Error("WRONGPASS invalid username-password pair or user is disabled."), await h.RunAsync("HELLO", "3", "AUTH", "default", "bad"));
        var hello = (object?[])(await h.RunAsync("HELLO", "3", "AUTH", "default", "pw", "SETNAME", "w1"))!;
        Assert.Equal(3L, hello[5]);
        Assert.Equal("w1", await h.RunAsync("CLIENT", "GETNAME"));
    }

    [Fact]
    public async Task Quit_is_allowed_before_auth()
    {
        await using var h = new RespHarness(new PeerServerOptions { RequirePass = "pw" });
        Assert.Equal(Ok, await h.RunAsync("QUIT"));
        Assert.True(await h.IsClosedAsync());
    }

    [Fact]
    public async Task Auth_without_a_configured_password_says_so()
    {
        await using var h = new RespHarness();
        Assert.Equal(new Error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"), await h.RunAsync("AUTH", "x"));
    }

    [Theory]
    [InlineData("127.0.0.1", "203.0.113.9", null, true, false)]
    [InlineData("0.0.0.0", "203.0.113.9", null, true, true)]
    [InlineData("0.0.0.0", "127.0.0.1", null, true, false)]
    [InlineData("0.0.0.0", "203.0.113.9", "pw", true, false)]
    [InlineData("0.0.0.0", "203.0.113.9", null, false, false)]
    [InlineData("::", "::1", null, true, false)]
    public void Protected_mode_refuses_only_remote_clients_of_an_open_unprotected_server(string bind, string remote, string? password, bool protectedMode, bool denied)
    {
        var options = new PeerServerOptions { BindAddress = IPAddress.Parse(bind), RequirePass = password, ProtectedMode = protectedMode };
        Assert.Equal(denied, RespConnection.IsDenied(options.ToRespSettings(), new IPEndPoint(IPAddress.Parse(remote), 40000)));
    }

    [Fact]
    public async Task A_denied_client_gets_the_DENIED_error()
    {
        var options = new PeerServerOptions { BindAddress = IPAddress.Any };
        var remote = new IPEndPoint(IPAddress.Parse("203.0.113.9"), 40000);
        await using var h = new RespHarness(options, remote: remote);
        Assert.True(RespConnection.IsDenied(options.ToRespSettings(), remote));
        await h.Connection.DenyAsync();
        var reply = await h.ReadAsync();
        Assert.IsType<Error>(reply);
        Assert.StartsWith("DENIED ", ((Error)reply!).Text, StringComparison.Ordinal);
    }
}
