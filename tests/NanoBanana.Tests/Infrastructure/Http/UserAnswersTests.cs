using System.Text;
using Microsoft.Extensions.Time.Testing;
using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Http;

namespace NanoBanana.Tests.Infrastructure.Http;

/// <summary>
/// The read cache's store (docs/decisions.md, "Read cache"): only the user's current version is held,
/// within its lifetime and its size limit, and an answer is admitted on its second read.
/// </summary>
public sealed class UserAnswersTests
{
    static readonly DateTimeOffset Start = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);

    static UserDataCache.Answer Answer(string text) => new(Encoding.UTF8.GetBytes(text), "application/json; charset=utf-8");

    static string? Text(UserDataCache.Answer? answer) => answer is null ? null : Encoding.UTF8.GetString(answer.Body);

    [Fact]
    public void An_answer_is_admitted_on_its_second_read_at_the_same_version()
    {
        using var answers = new UserDataCache.UserAnswers(new ReadCacheSettings(), new FakeTimeProvider(Start));
        Assert.False(answers.Admits("u1", 5, "/api/sessions", ""));
        Assert.True(answers.Admits("u1", 5, "/api/sessions", ""));
        // Another version, query or user is another read.
        Assert.False(answers.Admits("u1", 6, "/api/sessions", ""));
        Assert.False(answers.Admits("u1", 6, "/api/sessions", "?limit=5"));
        Assert.False(answers.Admits("u2", 6, "/api/sessions", "?limit=5"));
    }

    [Fact]
    public void A_read_may_be_held_once_it_was_read_or_kept_at_any_version()
    {
        using var answers = new UserDataCache.UserAnswers(new ReadCacheSettings(), new FakeTimeProvider(Start));
        Assert.False(answers.MayHold("u1", "/api/sessions", "?n=1"));

        // Read once at version 5: held at 5 (the second read is admitted) and possibly at a later version too.
        Assert.False(answers.Admits("u1", 5, "/api/sessions", "?n=1"));
        Assert.True(answers.MayHold("u1", "/api/sessions", "?n=1"));
        Assert.False(answers.MayHold("u1", "/api/sessions", "?n=2"));
        Assert.False(answers.MayHold("u2", "/api/sessions", "?n=1"));
        Assert.False(answers.Admits("u1", 6, "/api/sessions", "?n=1")); // a newer version is another read
        Assert.True(answers.Admits("u1", 6, "/api/sessions", "?n=1"));

        // Kept, though never read through Admits.
        answers.Keep("u2", 7, "/api/sessions/s1", "", Answer("seven"));
        Assert.True(answers.MayHold("u2", "/api/sessions/s1", ""));
        Assert.False(answers.MayHold("u2", "/api/sessions/s2", ""));
    }

    [Fact]
    public void A_newer_version_drops_the_older_versions_answers_at_once()
    {
        using var answers = new UserDataCache.UserAnswers(new ReadCacheSettings(), new FakeTimeProvider(Start));
        answers.Keep("u1", 5, "/api/sessions", "", Answer("five"));
        answers.Keep("u1", 5, "/api/sessions/s1", "", Answer("five, s1"));
        answers.Keep("u2", 5, "/api/sessions", "", Answer("other user"));
        Assert.Equal("five", Text(answers.Find("u1", 5, "/api/sessions", "")));
        Assert.Null(answers.Find("u1", 5, "/api/sessions", "?limit=5"));
        Assert.Equal("other user", Text(answers.Find("u2", 5, "/api/sessions", "")));
        var before = answers.Bytes;

        answers.Keep("u1", 6, "/api/sessions", "", Answer("six"));
        Assert.Null(answers.Find("u1", 5, "/api/sessions", ""));
        Assert.Null(answers.Find("u1", 5, "/api/sessions/s1", ""));
        Assert.Null(answers.Find("u1", 6, "/api/sessions/s1", ""));
        Assert.Equal("six", Text(answers.Find("u1", 6, "/api/sessions", "")));
        Assert.Equal("other user", Text(answers.Find("u2", 5, "/api/sessions", "")));
        Assert.True(answers.Bytes < before, $"{answers.Bytes} bytes held after the older version went, {before} before");
    }

    [Fact]
    public void A_slower_request_of_an_older_version_does_not_replace_the_current_one()
    {
        using var answers = new UserDataCache.UserAnswers(new ReadCacheSettings(), new FakeTimeProvider(Start));
        answers.Keep("u1", 6, "/api/sessions", "", Answer("six"));
        answers.Keep("u1", 5, "/api/sessions/s1", "", Answer("five, s1"));
        Assert.Equal("six", Text(answers.Find("u1", 6, "/api/sessions", "")));
        Assert.Null(answers.Find("u1", 5, "/api/sessions/s1", ""));
    }

    [Fact]
    public void Answers_expire_after_their_lifetime_and_the_sweep_frees_them()
    {
        var clock = new FakeTimeProvider(Start);
        using var answers = new UserDataCache.UserAnswers(new ReadCacheSettings { Seconds = 60 }, clock);
        answers.Keep("u1", 5, "/api/sessions", "", Answer("five"));
        clock.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal("five", Text(answers.Find("u1", 5, "/api/sessions", "")));
        Assert.True(answers.Bytes > 0);

        clock.Advance(TimeSpan.FromSeconds(2)); // past the lifetime; the sweep timer has fired at 60 s
        Assert.Null(answers.Find("u1", 5, "/api/sessions", ""));
        clock.Advance(TimeSpan.FromSeconds(60)); // the next sweep drops it
        Assert.Equal(0, answers.Bytes);

        // The same version can be kept again afresh.
        answers.Keep("u1", 5, "/api/sessions", "", Answer("five again"));
        Assert.Equal("five again", Text(answers.Find("u1", 5, "/api/sessions", "")));
    }

    [Fact]
    public void A_full_store_keeps_nothing_more_until_versions_expire()
    {
        var clock = new FakeTimeProvider(Start);
        using var answers = new UserDataCache.UserAnswers(new ReadCacheSettings { Megabytes = 1, Seconds = 60 }, clock);
        var big = new string('x', 300 * 1024);
        for (var i = 0; i < 5; i++) answers.Keep($"u{i}", 1, "/api/sessions", "", Answer(big));
        Assert.True(answers.Bytes <= 1024 * 1024, $"{answers.Bytes} bytes held");
        Assert.NotNull(answers.Find("u0", 1, "/api/sessions", ""));
        Assert.Null(answers.Find("u4", 1, "/api/sessions", ""));

        clock.Advance(TimeSpan.FromSeconds(61)); // every version expired and swept
        answers.Keep("u4", 1, "/api/sessions", "", Answer(big));
        Assert.NotNull(answers.Find("u4", 1, "/api/sessions", ""));
    }

    [Fact]
    public void With_no_memory_it_is_off()
    {
        using var answers = new UserDataCache.UserAnswers(new ReadCacheSettings { Megabytes = 0 }, new FakeTimeProvider(Start));
        Assert.False(answers.Enabled);
        answers.Keep("u1", 5, "/api/sessions", "", Answer("five"));
        Assert.Null(answers.Find("u1", 5, "/api/sessions", ""));
    }
}
