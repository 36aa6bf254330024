using Alba;

namespace NanoBanana.Tests.Features.Health;

public sealed class HealthTests(AppFixture app) : IntegrationContext(app)
{
    [Fact]
    public async Task Health_answers_200_with_redis_latency_uptime_version_and_counts()
    {
        await Host.Scenario(s => { s.Get.Url("/nothing-here"); s.StatusCodeShouldBe(404); });
        var result = await Host.Scenario(s => { s.Get.Url("/health"); s.StatusCodeShouldBe(200); });
        var body = await Json(result);
        Assert.Equal("ok", body["status"]!.GetValue<string>());
        Assert.Equal("up", body["redis"]!["status"]!.GetValue<string>());
        Assert.True(body["redis"]!["latencyMs"]!.GetValue<double>() >= 0);
        Assert.True(body["uptimeSeconds"]!.GetValue<long>() >= 0);
        Assert.False(string.IsNullOrEmpty(body["version"]!.GetValue<string>()));
        Assert.True(body["requests"]!["total"]!.GetValue<long>() >= 1);
        Assert.True(body["requests"]!["serverErrors"]!.GetValue<long>() >= 0);
        Assert.InRange(body["requests"]!["errorRate"]!.GetValue<double>(), 0, 1);
        Assert.Equal(0, body["websockets"]!["active"]!.GetValue<int>());
    }

    [Fact]
    public async Task Health_answers_503_with_redis_down_when_redis_does_not_answer()
    {
        await using var host = await AppFixture.StartHost(new Dictionary<string, string?> { ["REDIS_URL"] = "127.0.0.1:1" });
        var result = await host.Scenario(s => { s.Get.Url("/health"); s.StatusCodeShouldBe(503); });
        var body = await Json(result);
        Assert.Equal("unavailable", body["status"]!.GetValue<string>());
        Assert.Equal("down", body["redis"]!["status"]!.GetValue<string>());
        Assert.Null(body["redis"]!["latencyMs"]);
        Assert.NotNull(body["uptimeSeconds"]);
        Assert.NotNull(body["requests"]!["total"]);
        Assert.NotNull(body["websockets"]!["active"]);
    }
}
