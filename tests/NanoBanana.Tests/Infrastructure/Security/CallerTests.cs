using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Security;

namespace NanoBanana.Tests.Infrastructure.Security;

/// <summary>The caller is bound from the access token's claims, or the request answers 401.</summary>
public sealed class CallerTests
{
    [Fact]
    public async Task The_caller_is_the_tokens_subject_and_device()
    {
        var http = new DefaultHttpContext
        {
            User = new ClaimsPrincipal(new ClaimsIdentity([new Claim("sub", "user-1"), new Claim(AccessTokens.DeviceClaim, "device-1")], "Bearer")),
        };
        Assert.Equal(new Caller("user-1", "device-1"), await Caller.BindAsync(http));
    }

    [Fact]
    public async Task A_request_without_a_signed_in_user_answers_401_unauthorized()
    {
        var problem = await Assert.ThrowsAsync<ApiProblem>(async () => await Caller.BindAsync(new DefaultHttpContext()));
        Assert.Equal(401, problem.Status);
        Assert.Equal("unauthorized", problem.Code);
    }
}
