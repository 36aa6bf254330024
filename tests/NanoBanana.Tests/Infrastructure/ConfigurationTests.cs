namespace NanoBanana.Tests.Infrastructure;

public sealed class ConfigurationTests(AppFixture app) : IntegrationContext(app)
{
    [Theory]
    [InlineData("")]
    [InlineData("too-short-secret")]
    public async Task A_missing_or_short_jwt_secret_outside_development_stops_start_up_with_a_clear_message(string secret)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() =>
            AppFixture.StartHost(new Dictionary<string, string?> { ["JWT_SECRET"] = secret }));
        Assert.Contains("JWT_SECRET", error.ToString());
    }
}
