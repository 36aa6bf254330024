using System.Security.Claims;
using Alba;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using NanoBanana.Infrastructure.Security;

namespace NanoBanana.Tests.Infrastructure.Security;

/// <summary>Access tokens verified once are recognised until they expire, and only the exact token.</summary>
public sealed class VerifiedTokensTests(AppFixture app) : IntegrationContext(app)
{
    Task<IScenarioResult> Me(string token) => Host.Scenario(s =>
    {
        s.Get.Url("/api/auth/me");
        s.WithToken(token);
        s.IgnoreStatusCode();
    });

    [Fact]
    public async Task A_token_used_before_is_recognised_but_the_same_claims_with_another_signature_are_refused()
    {
        var user = await RegisterUser();
        Assert.Equal(200, (await Me(user.Token)).Context.Response.StatusCode);
        Assert.NotNull(Host.Services.GetRequiredService<VerifiedTokens>().Find(user.Token)); // the control: it is remembered
        Assert.Equal(200, (await Me(user.Token)).Context.Response.StatusCode);

        // Header and payload of the remembered token, with one signature character changed.
        var signature = user.Token[(user.Token.LastIndexOf('.') + 1)..];
        var flipped = signature[0] == 'A' ? 'B' : 'A';
        var forged = user.Token[..(user.Token.LastIndexOf('.') + 1)] + flipped + signature[1..];
        await ShouldBeProblem(await Me(forged), 401, "invalid_token");
    }

    static ClaimsIdentity Caller(string id) => new([new Claim("sub", id)], "Bearer");

    [Fact]
    public void A_remembered_token_is_forgotten_when_it_would_fail_lifetime_validation()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
        var tokens = new VerifiedTokens(clock, TimeSpan.FromSeconds(5));
        tokens.Remember("t1", Caller("u1"), clock.GetUtcNow().UtcDateTime.AddMinutes(1));

        clock.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(4));
        Assert.Equal("u1", tokens.Find("t1")!.FindFirst("sub")!.Value); // within the clock skew
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(tokens.Find("t1"));
        Assert.Equal(0, tokens.Count);
    }

    [Fact]
    public void A_long_lived_token_is_verified_again_after_two_minutes()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
        var tokens = new VerifiedTokens(clock, TimeSpan.FromSeconds(5));
        tokens.Remember("t1", Caller("u1"), clock.GetUtcNow().UtcDateTime.AddMinutes(15));

        clock.Advance(TimeSpan.FromMinutes(2) - TimeSpan.FromSeconds(1));
        Assert.NotNull(tokens.Find("t1"));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(tokens.Find("t1"));
    }

    [Fact]
    public void Tokens_that_never_come_back_are_swept_within_two_minutes()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
        var tokens = new VerifiedTokens(clock, TimeSpan.FromSeconds(5));
        for (var i = 0; i < 100; i++) tokens.Remember($"t{i}", Caller("u1"), clock.GetUtcNow().UtcDateTime.AddMinutes(15));
        Assert.Equal(100, tokens.Count);

        clock.Advance(TimeSpan.FromMinutes(2));
        tokens.Remember("fresh", Caller("u2"), clock.GetUtcNow().UtcDateTime.AddMinutes(15));
        Assert.Equal(1, tokens.Count);
    }

    [Fact]
    public void A_full_cache_sweeps_expired_tokens_and_otherwise_remembers_nothing_more()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
        var tokens = new VerifiedTokens(clock, TimeSpan.Zero, capacity: 2);
        var now = clock.GetUtcNow().UtcDateTime;
        tokens.Remember("short", Caller("u1"), now.AddSeconds(30));
        tokens.Remember("long", Caller("u2"), now.AddMinutes(15));

        tokens.Remember("refused", Caller("u3"), now.AddMinutes(15));
        Assert.Null(tokens.Find("refused")); // full of valid tokens: verified again next time
        clock.Advance(TimeSpan.FromMinutes(1));
        tokens.Remember("room", Caller("u4"), now.AddMinutes(15));
        Assert.NotNull(tokens.Find("room")); // "short" expired and was swept
        Assert.NotNull(tokens.Find("long"));
    }

    [Fact]
    public void Each_caller_gets_a_principal_of_its_own()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
        var tokens = new VerifiedTokens(clock, TimeSpan.Zero);
        tokens.Remember("t", Caller("u1"), clock.GetUtcNow().UtcDateTime.AddMinutes(15));
        var first = tokens.Find("t")!;
        first.AddIdentity(new ClaimsIdentity([new Claim("role", "admin")], "Other"));
        var second = tokens.Find("t")!;
        Assert.NotSame(first, second);
        Assert.Null(second.FindFirst("role"));
        Assert.Equal("u1", second.FindFirst("sub")!.Value);
    }
}
