using System.Diagnostics;
using Alba;
using Microsoft.Extensions.DependencyInjection;
using NanoBanana.Features.Auth.DeleteAccount;
using NanoBanana.Infrastructure.Storage;
using NanoBanana.Tests.Features.Images;
using NanoBanana.Tests.Features.Realtime;
using NanoBanana.Tests.Infrastructure.Storage;

namespace NanoBanana.Tests.Features.Auth;

/// <summary><c>DELETE /api/auth/me</c> (SPEC section 3): the account and everything it owns go, on the local store and on S3.</summary>
public sealed class DeleteAccountTests(AppFixture app, LiveServer server) : ImageTestContext(app), IClassFixture<LiveServer>
{
    /// <summary>Every key anywhere in Redis that names the user.</summary>
    async Task<List<string>> KeysOf(string userId)
    {
        var keys = new List<string>();
        foreach (var s in App.Admin.GetServers().Where(s => !s.IsReplica))
            await foreach (var key in s.KeysAsync(pattern: $"*{userId}*")) keys.Add(key.ToString());
        return keys;
    }

    static Task<IScenarioResult> Delete(IAlbaHost host, TestUser user, string password) =>
        host.Scenario(s =>
        {
            s.Delete.Json(new { password }).ToUrl("/api/auth/me");
            s.As(user);
            s.IgnoreStatusCode();
        });

    /// <summary>A user with a session, a message, an uploaded image with its thumbnails, an idempotent create and a second device.</summary>
    async Task<(TestUser User, string Session)> UserWithData(IAlbaHost host)
    {
        var user = await RegisterUser(host: host);
        await SignIn(user, host: host);
        var created = await Json(await host.Scenario(s =>
        {
            s.Post.Json(new { title = "Holiday" }).ToUrl("/api/sessions");
            s.WithRequestHeader("Idempotency-Key", "create-1");
            s.As(user);
            s.StatusCodeShouldBe(201);
        }));
        var session = created["session"]!["id"]!.GetValue<string>();
        var (image, _) = await UploadAndWait(host, user, session, TestImages.JpegWithOrientation6AndGps());
        await host.Scenario(s =>
        {
            s.Post.Json(new { role = "user", text = "make it brighter", imageIds = new[] { image["id"]!.GetValue<string>() } })
                .ToUrl($"/api/sessions/{session}/messages");
            s.As(user);
            s.StatusCodeShouldBe(201);
        });
        return (user, session);
    }

    async Task DeletingRemovesEverything(IAlbaHost host, Func<string, Task<int>> blobsOf)
    {
        var (user, _) = await UserWithData(host);
        var other = await RegisterUser(host: host);
        Assert.NotEmpty(await KeysOf(user.Id));
        Assert.True(await blobsOf(user.Id) >= 3, "the original and its thumbnails are stored");

        Assert.Equal(200, (await Delete(host, user, Password)).Context.Response.StatusCode);

        Assert.Empty(await KeysOf(user.Id));
        Assert.Equal(0, await blobsOf(user.Id));
        // The token is refused everywhere; the email and username are free again.
        await ShouldBeProblem(await host.Scenario(s => { s.Get.Url("/api/sessions"); s.As(user); s.IgnoreStatusCode(); }), 401, "signed_out");
        await ShouldBeProblem(await host.Scenario(s => { s.Post.Json(new { title = "x" }).ToUrl("/api/sessions"); s.As(user); s.IgnoreStatusCode(); }), 401, "signed_out");
        await host.Scenario(s =>
        {
            s.Post.Json(new { email = user.Email, username = user.Username, password = Password }).ToUrl("/api/auth/register");
            s.StatusCodeShouldBe(201);
        });
        // Another user's data is untouched.
        await host.Scenario(s => { s.Get.Url("/api/auth/me"); s.As(other); s.StatusCodeShouldBe(200); });
    }

    [Fact]
    public async Task Deleting_the_account_removes_every_key_and_blob_on_the_local_store()
    {
        await DeletingRemovesEverything(Host, userId =>
        {
            var root = ((LocalStorage)Host.Services.GetRequiredService<IObjectStorage>()).Root;
            var folder = Path.Combine(root, "users", userId);
            return Task.FromResult(Directory.Exists(folder) ? Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Count() : 0);
        });
    }

    [Fact]
    public async Task Deleting_the_account_removes_every_key_and_blob_on_s3()
    {
        await using var host = await AppFixture.StartHost(TestS3.AppSettings());
        using var bucket = TestS3.Create();
        await DeletingRemovesEverything(host, async userId => (await bucket.ListAsync(BlobKeys.UserPrefix(userId))).Count);
    }

    [Fact]
    public async Task A_wrong_password_deletes_nothing()
    {
        var user = await RegisterUser();
        var before = await KeysOf(user.Id);

        var wrong = await ShouldBeProblem(await Delete(Host, user, "not the password"), 400, "invalid_credentials");

        Assert.NotNull(wrong["errors"]!["password"]);
        // The general rate limit counts the call itself; nothing of the account's own changed.
        static IEnumerable<string> Own(IEnumerable<string> keys) => keys.Where(k => !k.StartsWith("nb:rl:", StringComparison.Ordinal)).Order();
        Assert.Equal(Own(before), Own(await KeysOf(user.Id)));
        await Host.Scenario(s => { s.Get.Url("/api/auth/me"); s.As(user); s.StatusCodeShouldBe(200); });
    }

    [Fact]
    public async Task Every_socket_of_a_deleted_account_closes_with_4401_at_once_and_new_ones_are_refused()
    {
        var user = await RegisterUser();
        var laptop = await SignIn(user);
        var session = await CreateSession(user);
        var (phoneSocket, _) = await Device.Connect(server, session, user);
        await using var _p = phoneSocket;
        var (laptopSocket, _) = await Device.Connect(server, session, laptop);
        await using var _l = laptopSocket;

        Assert.Equal(200, (await Delete(Host, user, Password)).Context.Response.StatusCode);
        var clock = Stopwatch.StartNew();

        foreach (var socket in new[] { phoneSocket, laptopSocket })
        {
            var (code, _) = await socket.ReceiveUntilClosed();
            Assert.Equal(4401, code);
        }
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"closed after {clock.ElapsedMilliseconds} ms");
        await using var refused = await Device.Open(server, Device.PathFor(session, laptop.Token));
        var (refusedCode, frames) = await refused.ReceiveUntilClosed();
        Assert.Equal(4401, refusedCode);
        Assert.Empty(frames);
    }
}
