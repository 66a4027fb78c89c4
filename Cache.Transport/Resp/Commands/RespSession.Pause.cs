using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>CLIENT PAUSE / UNPAUSE, and holding a client's command while a pause lasts.</summary>
internal sealed partial class RespSession
{
    /// <summary>True when the pending task is a command held by CLIENT PAUSE: the connection sends the replies before it waits.</summary>
    internal bool Holding { get; private set; }

    /// <summary>CLIENT PAUSE timeout [WRITE|ALL], CLIENT UNPAUSE. False when the subcommand is another one.</summary>
    private bool ClientPauseCommand(in CommandArgs a)
    {
        if (a.Is(1, "UNPAUSE"u8))
        {
            if (a.Count != 2)
            {
                WrongArity("client|unpause");
                return true;
            }

            _server.Pause.Unpause();
            _out.Ok();
            return true;
        }

        if (!a.Is(1, "PAUSE"u8))
        {
            return false;
        }

        if (a.Count < 3)
        {
            WrongArity("client|pause");
            return true;
        }

        if (a.Count > 4)
        {
            _out.Error($"ERR unknown subcommand or wrong number of arguments for '{Shown(a[1])}'. Try CLIENT HELP.");
            return true;
        }

        var mode = ClientPause.PauseMode.All;
        if (a.Count == 4)
        {
            if (a.Is(3, "WRITE"u8))
            {
                mode = ClientPause.PauseMode.Write;
            }
            else if (!a.Is(3, "ALL"u8))
            {
                _out.Error("ERR CLIENT PAUSE mode must be WRITE or ALL");
                return true;
            }
        }

        if (!TryLong(a[2], out var milliseconds))
        {
            _out.Error("ERR timeout is not an integer or out of range");
            return true;
        }

        if (milliseconds < 0)
        {
            _out.Error("ERR timeout is negative");
            return true;
        }

        var now = _server.Time.GetUtcNow().ToUnixTimeMilliseconds();
        _server.Pause.Pause(mode, milliseconds > long.MaxValue - now ? long.MaxValue : now + milliseconds);
        _out.Ok();
        return true;
    }

    /// <summary>Holds the command until the pause ends: it is copied (the connection's buffer moves on) and runs then, its reply in its place.</summary>
    private void Hold(in CommandArgs a)
    {
        var all = new int[a.Count];
        for (var i = 0; i < all.Length; i++)
        {
            all[i] = i;
        }

        Holding = true;
        _client.Blocked = true;
        _pending = RunWhenUnpausedAsync(ForwardedCommand.Encode(_out.Protocol, a, all));
    }

    private async Task RunWhenUnpausedAsync(byte[] encoded)
    {
        await _server.Pause.WhenEnded().ConfigureAwait(false);
        _client.Blocked = false;
        if (_client.Killed)
        {
            return;
        }

        var ranges = new ArgRange[Math.Max(8, 1)];
        if (!ForwardedCommand.TryDecode(encoded, int.MaxValue, ref ranges, out _, out var count))
        {
            return;
        }

        // Runs as if it just arrived: it may be held again (a new pause), or go to another member.
        Execute(new CommandArgs(encoded, ranges.AsSpan(0, count)), held: true);
        if (TakePending() is { } next)
        {
            await next.ConfigureAwait(false);
        }
    }
}
