namespace NanoBanana.Infrastructure.OpenApi;

/// <summary>
/// What a route tells the OpenAPI document beyond its signature, as endpoint metadata that
/// <see cref="ApiDocs"/>' transformers read. A slice describes its route with these beside
/// <c>WithName</c>/<c>WithSummary</c>/<c>Produces</c>; the answers every route shares (401, 429, ...)
/// are added by the transformers from what the route is (signed-in, JSON body, id in the path).
/// </summary>
public static class RouteDocs
{
    /// <summary>The main request's and response's example (request null for a route without a body).</summary>
    public static TBuilder Example<TBuilder>(this TBuilder builder, object? request, object response)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new ExampleDoc(request, response));

    /// <summary><c>limit</c> (1 to <paramref name="maxLimit"/>, default <paramref name="defaultLimit"/>) and <c>offset</c> (0 or more).</summary>
    public static TBuilder Paged<TBuilder>(this TBuilder builder, int defaultLimit, int maxLimit)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new PagingDoc(defaultLimit, maxLimit));

    /// <summary>A query parameter's meaning, and its allowed values or its least whole-number value.</summary>
    public static TBuilder Query<TBuilder>(this TBuilder builder, string name, string description,
        string[]? oneOf = null, long? minimum = null) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new QueryDoc(name, description, oneOf, minimum));
}

public sealed record ExampleDoc(object? Request, object Response);

public sealed record PagingDoc(int DefaultLimit, int MaxLimit);

public sealed record QueryDoc(string Name, string Description, string[]? OneOf, long? Minimum);
