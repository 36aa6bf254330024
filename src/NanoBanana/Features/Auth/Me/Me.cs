using Carter;
using NanoBanana.Infrastructure.OpenApi;
using NanoBanana.Infrastructure.Security;
using StackExchange.Redis;
using Wolverine;

namespace NanoBanana.Features.Auth.Me;

public sealed record GetMe(string UserId);

public static class GetMeHandler
{
    public static async Task<UserResponse> Handle(GetMe query, IDatabase db) =>
        new((await Users.Get(db, query.UserId)).ToDto());
}

public sealed class MeEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.AuthRoutes().MapGet("/me", async (Caller caller, IMessageBus bus, CancellationToken ct) =>
                TypedResults.Ok(await bus.InvokeAsync<UserResponse>(new GetMe(caller.UserId), ct)))
            .WithName("GetMe")
            .Example(null, new UserResponse(ApiExamples.User))
            .WithSummary("The signed-in user's account")
            .Produces<UserResponse>()
            .ProducesProblem(401);
}
