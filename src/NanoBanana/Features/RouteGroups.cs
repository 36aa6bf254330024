namespace NanoBanana.Features;

/// <summary>
/// The API's resources, one route group each: its path prefix, its OpenAPI tag, and that only a
/// signed-in caller may call it. A slice's endpoint maps its route into its resource's group; the few
/// public routes of a protected resource (register, login, refresh) say <c>AllowAnonymous()</c>.
/// Routes outside every group (/health, the /ws handshake, /blobs) are public and say so too.
/// </summary>
public static class RouteGroups
{
    public static RouteGroupBuilder AuthRoutes(this IEndpointRouteBuilder app) => SignedIn(app, "/api/auth", "Auth");

    public static RouteGroupBuilder SessionRoutes(this IEndpointRouteBuilder app) => SignedIn(app, "/api/sessions", "Sessions");

    /// <summary>A session's messages (list, post); one message by its own id is under <see cref="MessageRoutes"/>.</summary>
    public static RouteGroupBuilder SessionMessageRoutes(this IEndpointRouteBuilder app) =>
        SignedIn(app, "/api/sessions/{sessionId}/messages", "Messages");

    public static RouteGroupBuilder MessageRoutes(this IEndpointRouteBuilder app) => SignedIn(app, "/api/messages", "Messages");

    public static RouteGroupBuilder ImageRoutes(this IEndpointRouteBuilder app) => SignedIn(app, "/api/images", "Images");

    public static RouteGroupBuilder SearchRoutes(this IEndpointRouteBuilder app) => SignedIn(app, "/api/search", "Search");

    public static RouteGroupBuilder SyncRoutes(this IEndpointRouteBuilder app) => SignedIn(app, "/api/sync", "Realtime");

    public static RouteGroupBuilder GenerationRoutes(this IEndpointRouteBuilder app) => SignedIn(app, "/api/generation", "Generation");

    /// <summary>A session's generations (queue, list); one generation by its own id is under <see cref="GenerationsRoutes"/>.</summary>
    public static RouteGroupBuilder SessionGenerationRoutes(this IEndpointRouteBuilder app) =>
        SignedIn(app, "/api/sessions/{sessionId}/generations", "Generation");

    public static RouteGroupBuilder GenerationsRoutes(this IEndpointRouteBuilder app) => SignedIn(app, "/api/generations", "Generation");

    /// <summary>The seed's synchronous routes of one provider (<c>/api/flux/...</c>).</summary>
    public static RouteGroupBuilder ProviderRoutes(this IEndpointRouteBuilder app, string provider) =>
        SignedIn(app, "/api/" + provider, "Generation");

    static RouteGroupBuilder SignedIn(IEndpointRouteBuilder app, string prefix, string tag) =>
        app.MapGroup(prefix).RequireAuthorization().WithTags(tag);
}
