using StackExchange.Redis;

// The plainest ASP.NET Core app over the same Redis as the product: Kestrel, one route, one GET.
// No logging, no auth, no rate limiter, no middleware: what wrk measures against it is the ceiling
// of this stack on this machine, the figure the product's routes are compared to.
//   PORT (default 3342), REDIS_URL (default 127.0.0.1:6379), BASELINE_KEY (default nb:bench:baseline)
//   GET / answers the value of BASELINE_KEY; GET /<name> the value of BASELINE_KEY:<name>.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var port = Environment.GetEnvironmentVariable("PORT") is { Length: > 0 } p ? int.Parse(p) : 3342;
builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
builder.WebHost.ConfigureKestrel(k => k.AddServerHeader = false);

var redis = await ConnectionMultiplexer.ConnectAsync(Environment.GetEnvironmentVariable("REDIS_URL") is { Length: > 0 } r ? r : "127.0.0.1:6379");
var db = redis.GetDatabase();
RedisKey key = Environment.GetEnvironmentVariable("BASELINE_KEY") is { Length: > 0 } k ? k : "nb:bench:baseline";

var app = builder.Build();
app.MapGet("/", () => Answer(key));
// The same, for a larger answer stored under <key>:<name> (the load benchmark stores a page of messages and
// a session list there): what serving that many bytes from one GET costs this stack.
app.MapGet("/{name}", (string name) => Answer($"{key}:{name}"));
app.Run();

async Task<IResult> Answer(RedisKey k)
{
    var value = await db.StringGetAsync(k);
    return value.IsNull ? Results.NotFound() : Results.Text((string)value!, "application/json");
}
