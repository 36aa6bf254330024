using System.Globalization;

namespace Soak;

sealed record Options(
    string Url, int Pid, double Minutes, int Users, int Devices, int Chats, int SeedMessages, double Scale,
    string? Out, string? LogDir, string? CountersTool, string? GcdumpTool, string? AppTemp, string WorkDir, string Storage, string Command)
{
    public static Options Parse(string[] args)
    {
        string? Get(string name) { var i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }
        double Num(string name, double fallback) => Get(name) is { } v ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;
        var o = new Options(
            Get("--url") ?? "http://127.0.0.1:3361",
            (int)Num("--pid", 0),
            Num("--minutes", 10),
            (int)Num("--users", 24),
            (int)Num("--devices", 3),
            (int)Num("--chats", 3),
            (int)Num("--seed-messages", 30),
            Num("--scale", 1),
            Get("--out"),
            Get("--logs"),
            Get("--counters-tool"),
            Get("--gcdump-tool"),
            Get("--app-temp"),
            Get("--work") ?? ".data/soak",
            Get("--storage") ?? "unknown",
            Get("--command") ?? "bash bench/soak.sh");
        if (o.Minutes <= 0 || o.Users < 1 || o.Devices < 2 || o.Chats < 1 || o.Scale <= 0)
            throw new ArgumentException("--minutes > 0, --users >= 1, --devices >= 2, --chats >= 1, --scale > 0");
        return o;
    }
}
