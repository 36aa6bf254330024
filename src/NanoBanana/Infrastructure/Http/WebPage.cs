using Microsoft.AspNetCore.StaticFiles;
using NanoBanana.Infrastructure.Configuration;

namespace NanoBanana.Infrastructure.Http;

/// <summary>
/// The web page at <c>/</c> (wwwroot: HTML, CSS and ES modules, no build step). Its files are revalidated
/// on every load (ETag), so a new release is seen at once, and carry a Content-Security-Policy that lets
/// the page run only its own scripts and styles, talk only to its own origin and show pictures from the
/// image store.
/// </summary>
public static class WebPage
{
    public static IApplicationBuilder UseWebPage(this IApplicationBuilder app, Settings settings)
    {
        var policy = ContentSecurityPolicy(settings);
        app.UseDefaultFiles();
        return app.UseStaticFiles(new StaticFileOptions
        {
            ContentTypeProvider = new FileExtensionContentTypeProvider(),
            OnPrepareResponse = ctx =>
            {
                var h = ctx.Context.Response.Headers;
                h.CacheControl = "no-cache";
                h.ContentSecurityPolicy = policy;
            },
        });
    }

    /// <summary>'self' for everything but pictures, which come from wherever the store hands out URLs.</summary>
    public static string ContentSecurityPolicy(Settings settings)
    {
        var storage = settings.Storage;
        var images = "'self' blob: data:";
        if (storage.Type == "local")
        {
            // The local store's URLs are absolute: PUBLIC_BASE_URL, or http://localhost:PORT without it.
            var baseUrl = storage.PublicBaseUrl ?? $"http://localhost:{settings.Port}";
            if (Uri.TryCreate(baseUrl, UriKind.Absolute, out var local)) images += " " + local.GetLeftPart(UriPartial.Authority);
        }
        else
        {
            // Signed S3/OSS URLs may name the bucket in the host (virtual-hosted style): allow the store's scheme.
            var endpoint = storage.S3.PublicEndpoint ?? storage.S3.Endpoint;
            images += endpoint?.StartsWith("http://", StringComparison.OrdinalIgnoreCase) == true ? " http:" : " https:";
        }
        return "default-src 'self'; script-src 'self'; style-src 'self'; img-src " + images +
               "; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
    }
}
