using Cache.Transport.Resp;

namespace Cache.Transport.Resp.Commands;

/// <summary>The commands the RESP server knows.</summary>
internal enum CommandId
{
    Ping, Echo, Hello, Auth, Select, Quit, Reset, Client,
    Get, Set, SetNx, SetEx, PSetEx, GetDel, GetEx, MGet, MSet, MSetNx, Del, Unlink, Exists, StrLen, GetRange, Append,
    Incr, Decr, IncrBy, DecrBy, Expire, PExpire, ExpireAt, PExpireAt, Ttl, PTtl, Persist, Type, Keys, Scan,
    DbSize, FlushDb, FlushAll, RandomKey, Time, Info, Command, Config, Memory, Cluster,
    Multi, Exec, Discard, Watch, Unwatch, Monitor, SlowLog, Latency, Object, Touch, GetSet, SetRange,
    GetBit, SetBit, BitCount, IncrByFloat, Lcs, Rename, RenameNx, Copy, ExpireTime, PExpireTime, Substr,
    Function, ReadOnly, ReadWrite, Lolwut,
}
