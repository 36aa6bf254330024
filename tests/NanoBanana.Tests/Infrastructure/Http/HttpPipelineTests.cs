using System.Net;
using Alba;

namespace NanoBanana.Tests.Infrastructure.Http;

/// <summary>What every route shares: the error shape of framework answers, body limits, CORS and security headers.</summary>
public sealed class HttpPipelineTests(AppFixture app) : IntegrationContext(app)
{
    [Fact]
    public async Task Malformed_json_answers_400_problem()
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Text("{\"email\": ").ToUrl("/api/auth/login");
            s.WithRequestHeader("Content-Type", "application/json");
            s.IgnoreStatusCode();
        });
        await ShouldBeProblem(result, 400, "malformed_json");
    }

    [Fact]
    public async Task An_oversized_body_answers_413_problem()
    {
        var big = "{\"email\":\"a@b.co\",\"password\":\"" + new string('x', 300 * 1024) + "\"}";
        var result = await Host.Scenario(s =>
        {
            s.Post.Text(big).ToUrl("/api/auth/login");
            s.WithRequestHeader("Content-Type", "application/json");
            s.IgnoreStatusCode();
        });
        await ShouldBeProblem(result, 413, "payload_too_large");
    }

    [Fact]
    public async Task An_oversized_body_without_a_declared_length_answers_413_problem()
    {
        var client = Host.Server.CreateClient();
        var content = new StreamContent(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(
            "{\"email\":\"a@b.co\",\"password\":\"" + new string('x', 300 * 1024) + "\"}")));
        content.Headers.ContentType = new("application/json");
        content.Headers.ContentLength = null;
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/auth/login") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("\"payload_too_large\"", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_chunked_body_kestrel_cannot_decode_answers_400_problem_not_500()
    {
        // A chunk size too large for Kestrel's counter surfaces as a plain IOException while the route reads
        // its JSON body (found by the hostile input sweep): it is the client's malformed request, not our fault.
        var user = await RegisterUser();
        await using var live = LiveServer.Start();
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(live.Address.Host, live.Address.Port);
        var stream = tcp.GetStream();
        var request = $"POST /api/sessions HTTP/1.1\r\nHost: {live.Address.Authority}\r\nAuthorization: Bearer {user.Token}\r\n" +
                      "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
                      "FFFFFFFFFFFFFFFFFF\r\n{}\r\n0\r\n\r\n";
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(request));
        using var reader = new StreamReader(stream);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var answer = await reader.ReadToEndAsync(cts.Token);

        Assert.StartsWith("HTTP/1.1 400", answer);
        Assert.Contains("Content-Type: application/problem+json", answer);
        Assert.Contains("\"code\":\"bad_request\"", answer);
    }

    [Theory]
    [InlineData("/api/sessions")]
    [InlineData("/api/auth/login")]
    public async Task A_json_body_in_an_unknown_charset_answers_415_problem_not_500(string url)
    {
        var user = await RegisterUser();
        var result = await Host.Scenario(s =>
        {
            s.Post.Text("{\"title\":\"x\"}").ToUrl(url);
            s.WithRequestHeader("Content-Type", "application/json; charset=x-klingon");
            s.As(user);
            s.IgnoreStatusCode();
        });
        await ShouldBeProblem(result, 415, "unsupported_media_type");
    }

    [Fact]
    public async Task An_unknown_route_answers_404_problem()
    {
        var result = await Host.Scenario(s => { s.Get.Url("/api/no-such-thing"); s.IgnoreStatusCode(); });
        await ShouldBeProblem(result, 404, "not_found");
    }

    [Fact]
    public async Task A_wrong_method_answers_405_problem()
    {
        var result = await Host.Scenario(s => { s.Delete.Url("/api/auth/login"); s.IgnoreStatusCode(); });
        await ShouldBeProblem(result, 405, "method_not_allowed");
    }

    [Fact]
    public async Task A_wrong_content_type_answers_415_problem()
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Text("email=a@b.co&password=whatever1").ToUrl("/api/auth/login");
            s.WithRequestHeader("Content-Type", "text/plain");
            s.IgnoreStatusCode();
        });
        await ShouldBeProblem(result, 415, "unsupported_media_type");
    }

    [Fact]
    public async Task A_cors_preflight_from_the_seed_client_is_allowed_with_authorization()
    {
        var client = Host.Server.CreateClient();
        var request = new HttpRequestMessage(HttpMethod.Options, "/api/auth/me");
        request.Headers.Add("Origin", "http://localhost:5173");
        request.Headers.Add("Access-Control-Request-Method", "PUT");
        request.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
        var response = await client.SendAsync(request);

        Assert.True(response.IsSuccessStatusCode, $"preflight answered {(int)response.StatusCode}");
        Assert.Equal("http://localhost:5173", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        var allowed = string.Join(",", response.Headers.GetValues("Access-Control-Allow-Headers")).ToLowerInvariant();
        Assert.Contains("authorization", allowed);
        Assert.Contains("content-type", allowed);
        Assert.Contains("PUT", string.Join(",", response.Headers.GetValues("Access-Control-Allow-Methods")));
    }

    [Fact]
    public async Task A_cors_preflight_is_cached_by_the_browser_for_at_least_ten_minutes()
    {
        var client = Host.Server.CreateClient();
        var request = new HttpRequestMessage(HttpMethod.Options, "/api/sessions");
        request.Headers.Add("Origin", "http://localhost:5173");
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
        var response = await client.SendAsync(request);

        Assert.True(response.IsSuccessStatusCode, $"preflight answered {(int)response.StatusCode}");
        Assert.True(int.Parse(response.Headers.GetValues("Access-Control-Max-Age").Single()) >= 600);
    }

    [Fact]
    public async Task A_cors_preflight_from_another_origin_is_not_allowed()
    {
        var client = Host.Server.CreateClient();
        var request = new HttpRequestMessage(HttpMethod.Options, "/api/auth/me");
        request.Headers.Add("Origin", "https://evil.example");
        request.Headers.Add("Access-Control-Request-Method", "GET");
        var response = await client.SendAsync(request);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Theory]
    [InlineData("/health")]
    [InlineData("/api/auth/me")]
    [InlineData("/api/no-such-thing")]
    public async Task Every_answer_carries_the_security_headers(string url)
    {
        var result = await Host.Scenario(s => { s.Get.Url(url); s.IgnoreStatusCode(); });
        var headers = result.Context.Response.Headers;
        Assert.Equal("nosniff", headers.XContentTypeOptions.ToString());
        Assert.Equal("DENY", headers.XFrameOptions.ToString());
        Assert.Equal("no-referrer", headers["Referrer-Policy"].ToString());
    }
}
