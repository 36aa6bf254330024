using System.Net;
using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using NanoBanana.Infrastructure.Security;

namespace NanoBanana.Tests.Features;

/// <summary>Each resource's route group carries the sign-in requirement; only register, login and refresh opt out.</summary>
public sealed class RouteGroupsTests(AppFixture app) : IntegrationContext(app)
{
    static readonly string[] PublicApiRoutes = ["/api/auth/register", "/api/auth/login", "/api/auth/refresh"];

    List<RouteEndpoint> Routes() =>
        Host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().ToList();

    List<RouteEndpoint> ApiRoutes() => Routes().Where(r => r.RoutePattern.RawText!.StartsWith("/api/")).ToList();

    static bool SignedInOnly(Endpoint e) =>
        e.Metadata.GetMetadata<IAuthorizeData>() is not null && e.Metadata.GetMetadata<IAllowAnonymous>() is null;

    [Fact]
    public void Every_api_route_needs_a_signed_in_caller_except_register_login_and_refresh()
    {
        var routes = ApiRoutes();
        Assert.True(routes.Count >= 28, $"only {routes.Count} /api routes found");
        Assert.All(routes, r => Assert.True(SignedInOnly(r) != PublicApiRoutes.Contains(r.RoutePattern.RawText),
            $"{r.RoutePattern.RawText}: signed-in only = {SignedInOnly(r)}"));
    }

    [Fact]
    public void Every_route_that_takes_the_caller_needs_a_signed_in_caller()
    {
        var takingCaller = Routes()
            .Where(r => r.Metadata.GetMetadata<MethodInfo>()?.GetParameters().Any(p => p.ParameterType == typeof(Caller)) == true)
            .ToList();
        Assert.True(takingCaller.Count >= 25, $"only {takingCaller.Count} routes take a Caller");
        Assert.All(takingCaller, r => Assert.True(SignedInOnly(r), r.RoutePattern.RawText));
    }

    [Fact]
    public async Task Every_signed_in_route_answers_401_problem_details_without_a_token()
    {
        var client = Host.Server.CreateClient();
        var checkedRoutes = 0;
        foreach (var route in ApiRoutes().Where(SignedInOnly))
        foreach (var method in route.Metadata.GetMetadata<IHttpMethodMetadata>()!.HttpMethods)
        {
            var path = Regex.Replace(route.RoutePattern.RawText!, @"\{[^}]+\}", "some-id");
            using var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{method} {path} answered {(int)response.StatusCode}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            Assert.Equal("unauthorized", body["code"]!.GetValue<string>());
            checkedRoutes++;
        }
        Assert.True(checkedRoutes >= 28, $"only {checkedRoutes} route methods checked");
    }
}
