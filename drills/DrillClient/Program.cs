using System.Globalization;

namespace DrillClient;

/// <summary>
/// The fault drills' client. <c>drills/run.sh</c> starts Redis, s3rver and the app, then runs
/// <c>DrillClient redis|s3|appkill|orphan|abuse --url ... --ctl "..."</c>; the drill breaks things through the control
/// command and ends with one verdict line. Exit code 0 when every check held.
/// </summary>
sealed class Options
{
    public string Drill = "";
    public string Url = "http://127.0.0.1:3301";
    public string Url2 = "http://127.0.0.1:3314";
    public double LeaseSeconds = 30;
    public string Ctl = "";
    public string Redis = "127.0.0.1:6411";
    public string S3 = "http://127.0.0.1:4611";
    public string Bucket = "drills";
    public int Writers = 8;
    public int PauseMs = 20;
    public double Before = 10, Down = 10, After = 8;
    public int GcGraceSeconds = 20;
    public string AppLogDir = "";
    public int WsCap = 32;
    public int? AppPid;
    public string Token = "", Session = "";

    public static Options Parse(string[] args)
    {
        var o = new Options { Drill = args.Length > 0 ? args[0] : "" };
        for (var i = 1; i + 1 < args.Length; i += 2)
        {
            var v = args[i + 1];
            double D() => double.Parse(v, CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--url": o.Url = v; break;
                case "--url2": o.Url2 = v; break;
                case "--lease": o.LeaseSeconds = D(); break;
                case "--ctl": o.Ctl = v; break;
                case "--redis": o.Redis = v; break;
                case "--s3": o.S3 = v; break;
                case "--bucket": o.Bucket = v; break;
                case "--writers": o.Writers = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--pause-ms": o.PauseMs = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--before": o.Before = D(); break;
                case "--down": o.Down = D(); break;
                case "--after": o.After = D(); break;
                case "--gc-grace": o.GcGraceSeconds = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--app-logs": o.AppLogDir = v; break;
                case "--app-pid": o.AppPid = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--token": o.Token = v; break;
                case "--session": o.Session = v; break;
                case "--ws-cap": o.WsCap = int.Parse(v, CultureInfo.InvariantCulture); break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }
        return o;
    }
}

static class Program
{
    static async Task<int> Main(string[] args)
    {
        var o = Options.Parse(args);
        try
        {
            return o.Drill switch
            {
                "redis" => await RedisDrill.Run(o),
                "s3" => await StoreDrill.Run(o),
                "appkill" => await AppKillDrill.Run(o),
                "orphan" => await OrphanDrill.Run(o),
                "abuse" => await AbuseDrill.Run(o),
                "abuse-worker" => await AbuseWorker.Run(o),
                _ => Usage(),
            };
        }
        catch (Exception e)
        {
            Console.WriteLine();
            Console.WriteLine($"VERDICT {o.Drill}: the drill could not finish: {e.GetType().Name}: {e.Message}");
            return 2;
        }
    }

    static int Usage()
    {
        Console.Error.WriteLine("usage: DrillClient redis|s3|appkill|orphan|abuse --url URL --ctl 'bash drills/run.sh _ctl DRILL' [--redis host:port] [--s3 URL] ...");
        return 64;
    }
}
