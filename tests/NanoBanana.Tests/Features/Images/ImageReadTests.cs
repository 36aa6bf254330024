namespace NanoBanana.Tests.Features.Images;

public sealed class ImageReadTests(AppFixture app) : ImageTestContext(app)
{
    [Fact]
    public async Task Another_users_image_answers_404_like_a_missing_one()
    {
        var owner = await RegisterUser("owner");
        var other = await RegisterUser("other");
        var session = await CreateSession(owner);
        var id = (await Json(await Upload(Host, owner, session, TestImages.Gif(), "a.gif", expect: 201)))["image"]!["id"]!.GetValue<string>();

        foreach (var url in new[] { $"/api/images/{id}", "/api/images/does-not-exist" })
        {
            var result = await Host.Scenario(s =>
            {
                s.Get.Url(url);
                s.As(other);
                s.StatusCodeShouldBe(404);
            });
            await ShouldBeProblem(result, 404, "not_found");
        }
        var delete = await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/images/{id}");
            s.As(other);
            s.StatusCodeShouldBe(404);
        });
        await ShouldBeProblem(delete, 404, "not_found");
    }

    [Fact]
    public async Task Every_read_hands_out_freshly_signed_urls_and_a_tampered_one_is_refused()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var id = (await Json(await Upload(Host, user, session, TestImages.Gif(), "a.gif", expect: 201)))["image"]!["id"]!.GetValue<string>();
        var image = await GetImage(Host, user, id);
        var url = image["url"]!.GetValue<string>();
        Assert.Contains("sig=", url);
        Assert.True(DateTimeOffset.Parse(image["urlExpiresAt"]!.GetValue<string>()) > DateTimeOffset.UtcNow.AddMinutes(50));

        Assert.Equal(200, (await Fetch(Host, url)).Status);
        Assert.Equal(404, (await Fetch(Host, url.Replace("sig=", "sig=x"))).Status);
        Assert.Equal(404, (await Fetch(Host, url.Replace("original.gif", "../../original.gif"))).Status);
        var expired = System.Text.RegularExpressions.Regex.Replace(url, @"exp=\d+", "exp=1000");
        Assert.Equal(404, (await Fetch(Host, expired)).Status);
    }

    [Fact]
    public async Task A_blob_answer_varies_by_origin_so_an_image_shown_in_an_img_then_fetched_by_script_still_loads()
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var id = (await Json(await Upload(Host, user, session, TestImages.Gif(), "a.gif", expect: 201)))["image"]!["id"]!.GetValue<string>();
        var path = new Uri((await GetImage(Host, user, id))["url"]!.GetValue<string>()).PathAndQuery;

        // The <img> request: no Origin, a cacheable answer without CORS headers, which must not be reused for a fetch().
        var img = await Host.Scenario(s => { s.Get.Url(path); s.StatusCodeShouldBe(200); });
        Assert.Contains("max-age", img.Context.Response.Headers.CacheControl.ToString());
        Assert.False(img.Context.Response.Headers.ContainsKey("Access-Control-Allow-Origin"));
        Assert.Contains("Origin", img.Context.Response.Headers.Vary.ToString());

        var fetch = await Host.Scenario(s =>
        {
            s.Get.Url(path);
            s.WithRequestHeader("Origin", "http://localhost:5173");
            s.StatusCodeShouldBe(200);
        });
        Assert.Equal("http://localhost:5173", fetch.Context.Response.Headers.AccessControlAllowOrigin.ToString());
        Assert.Equal(["Origin"], fetch.Context.Response.Headers.Vary.ToString().Split(',', StringSplitOptions.TrimEntries));
    }

    [Theory]
    [InlineData("bytes=999999999-")]
    [InlineData("bytes=-0")]
    public async Task A_blob_range_outside_the_file_answers_416_problem_and_a_valid_range_206(string range)
    {
        var user = await RegisterUser();
        var session = await CreateSession(user);
        var gif = TestImages.Gif();
        var id = (await Json(await Upload(Host, user, session, gif, "a.gif", expect: 201)))["image"]!["id"]!.GetValue<string>();
        var path = new Uri((await GetImage(Host, user, id))["url"]!.GetValue<string>()).PathAndQuery;

        var refused = await Host.Scenario(s =>
        {
            s.Get.Url(path);
            s.WithRequestHeader("Range", range);
            s.StatusCodeShouldBe(416);
        });
        await ShouldBeProblem(refused, 416, "range_not_satisfiable");
        Assert.Equal($"bytes */{gif.Length}", refused.Context.Response.Headers.ContentRange.ToString());

        var partial = await Host.Scenario(s =>
        {
            s.Get.Url(path);
            s.WithRequestHeader("Range", "bytes=0-5");
            s.StatusCodeShouldBe(206);
        });
        Assert.Equal(6, partial.Context.Response.ContentLength);
    }

    [Fact]
    public async Task Session_and_user_lists_are_newest_first_with_true_totals_and_type_filter()
    {
        var user = await RegisterUser();
        var s1 = await CreateSession(user);
        var s2 = await CreateSession(user);
        var ids = new List<string>();
        foreach (var (session, type) in new[] { (s1, "uploaded"), (s1, "generated"), (s1, "uploaded"), (s2, "edited") })
            ids.Add((await Json(await Upload(Host, user, session, TestImages.Gif(), "a.gif", type, expect: 201)))["image"]!["id"]!.GetValue<string>());

        var page = await Json(await Host.Scenario(s =>
        {
            s.Get.Url($"/api/images/session/{s1}?limit=2&offset=0");
            s.As(user);
            s.StatusCodeShouldBe(200);
        }));
        Assert.Equal([ids[2], ids[1]], page["images"]!.AsArray().Select(i => i!["id"]!.GetValue<string>()));
        var pagination = page["pagination"]!;
        Assert.Equal((2, 0, 3, true), (pagination["limit"]!.GetValue<int>(), pagination["offset"]!.GetValue<int>(),
            pagination["total"]!.GetValue<int>(), pagination["hasMore"]!.GetValue<bool>()));

        var uploaded = await Json(await Host.Scenario(s =>
        {
            s.Get.Url($"/api/images/session/{s1}?type=uploaded");
            s.As(user);
            s.StatusCodeShouldBe(200);
        }));
        Assert.Equal([ids[2], ids[0]], uploaded["images"]!.AsArray().Select(i => i!["id"]!.GetValue<string>()));
        Assert.Equal(2, uploaded["pagination"]!["total"]!.GetValue<int>());

        var all = await Json(await Host.Scenario(s =>
        {
            s.Get.Url("/api/images/user/all?limit=1000");
            s.As(user);
            s.StatusCodeShouldBe(200);
        }));
        Assert.Equal(Enumerable.Reverse(ids), all["images"]!.AsArray().Select(i => i!["id"]!.GetValue<string>()));
        Assert.False(all["pagination"]!["hasMore"]!.GetValue<bool>());
        Assert.Equal(100 + 900, all["pagination"]!["limit"]!.GetValue<int>());
    }

    [Fact]
    public async Task An_unknown_type_answers_400_never_a_silent_filter()
    {
        var user = await RegisterUser();
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/images/user/all?type=avatar");
            s.As(user);
            s.StatusCodeShouldBe(400);
        });
        await ShouldBeProblem(result, 400, "validation_failed");
    }

    [Fact]
    public async Task The_openapi_document_lists_every_image_route()
    {
        var doc = await Host.Scenario(s =>
        {
            s.Get.Url("/openapi/v1.json");
            s.StatusCodeShouldBe(200);
        });
        var paths = (await Json(doc))["paths"]!.AsObject();
        foreach (var route in new[] { "/api/images/upload", "/api/images/upload/batch", "/api/images/{imageId}",
                     "/api/images/session/{sessionId}", "/api/images/user/all", "/api/images/cleanup" })
            Assert.True(paths.ContainsKey(route), route);
        Assert.NotNull(paths["/api/images/upload"]!["post"]!["requestBody"]!["content"]!["multipart/form-data"]);
    }
}
