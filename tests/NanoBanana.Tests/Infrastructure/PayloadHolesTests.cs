using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using NanoBanana.Infrastructure.Realtime;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Tests.Infrastructure;

/// <summary>Payload values a change's script decides are filled in by that script, as the API's serializer writes them.</summary>
public sealed class PayloadHolesTests(AppFixture app) : IntegrationContext(app)
{
    sealed record Shape(string Name, DateTimeOffset At, int Count, IReadOnlyList<string> Ids, string Note);

    static readonly JsonSerializerOptions Api = CreateOptions();

    static JsonSerializerOptions CreateOptions()
    {
        var o = new JsonSerializerOptions();
        NanoBanana.Infrastructure.Http.Json.Configure(o);
        return o;
    }

    // Writes its arguments as fields of its key, and answers 1: the events are appended after it.
    static readonly LoggedChange WriteFields = new("""
        redis.call('HSET', KEYS[1], unpack(ARGV))
        return 1
        """);

    EventLog Log => Host.Services.GetRequiredService<EventLog>();

    [Theory]
    [InlineData(0L, 0, "")]
    [InlineData(1L, 7, "a")]
    [InlineData(951_782_399_999L, 42, "a_b-c,D9")]             // 2000-02-29T23:59:59.999Z: a leap day of a year divisible by 400
    [InlineData(4_107_542_400_000L, 123_456, "x,y,z")]         // 2100-03-01: 2100 is no leap year
    [InlineData(1_709_251_199_999L, 1, "img1")]                // 2024-02-29T23:59:59.999Z
    [InlineData(1_767_225_600_000L, 2_000_000_000, "q")]       // 2026-01-01T00:00:00.000Z
    [InlineData(253_402_300_799_999L, 3, "last")]              // 9999-12-31T23:59:59.999Z
    public async Task The_script_fills_a_time_a_count_and_an_id_list_byte_for_byte_as_the_api_serializes_them(long ms, int count, string ids)
    {
        var userId = Guid.NewGuid().ToString("N");
        var key = Keys.UserScope(userId) + "test:record";
        var holes = new PayloadHoles();
        var template = new Shape("naïve \"quoted\" <b> 😀", holes.Time(1, "at"), holes.Count(1, "count"), holes.Ids(1, "ids"), "end");

        var result = await Log.Apply(WriteFields, userId, [key], ["at", ms, "count", count, "ids", ids],
            [("test_event", null, JsonSerializer.Serialize(template, Api))], holes);

        Assert.Equal(1, (long)result);
        var logged = Assert.Single((await Log.Read(userId, 0, 10)).Events);
        var expected = template with
        {
            At = DateTimeOffset.FromUnixTimeMilliseconds(ms), Count = count,
            Ids = ids.Split(',', StringSplitOptions.RemoveEmptyEntries),
        };
        Assert.Equal(JsonSerializer.Serialize(expected, Api), logged.Payload);
    }

    [Fact]
    public async Task Times_across_four_centuries_are_written_as_the_api_writes_them()
    {
        var userId = Guid.NewGuid().ToString("N");
        var key = Keys.UserScope(userId) + "test:record";
        var random = new Random(20261126);
        var times = Enumerable.Range(0, 200).Select(_ => random.NextInt64(0, 13_000_000_000_000)).ToList();
        var holes = new PayloadHoles();
        var template = times.Select((_, i) => holes.Time(1, $"t{i}")).ToList();
        var fields = times.SelectMany((t, i) => new RedisValue[] { $"t{i}", t }).ToArray();

        await Log.Apply(WriteFields, userId, [key], fields, [("test_event", null, JsonSerializer.Serialize(template, Api))], holes);

        var logged = Assert.Single((await Log.Read(userId, 0, 10)).Events);
        Assert.Equal(JsonSerializer.Serialize(times.Select(DateTimeOffset.FromUnixTimeMilliseconds), Api), logged.Payload);
    }

    [Fact]
    public async Task A_stand_in_found_twice_refuses_before_anything_is_written()
    {
        var userId = Guid.NewGuid().ToString("N");
        var key = Keys.UserScope(userId) + "test:record";
        var holes = new PayloadHoles();
        var at = holes.Time(1, "at");

        await Assert.ThrowsAsync<InvalidOperationException>(() => Log.Apply(WriteFields, userId, [key], ["at", 1],
            [("test_event", null, JsonSerializer.Serialize(new[] { at, at }, Api))], holes));

        Assert.False(await Redis.KeyExistsAsync(key));
        Assert.Equal(0, await Log.LastSeq(userId));
    }
}
