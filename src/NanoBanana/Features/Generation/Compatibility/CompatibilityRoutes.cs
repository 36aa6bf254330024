using System.Text.Json;
using System.Text.RegularExpressions;
using Carter;
using NanoBanana.Features.Images;
using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Generation;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Imaging;
using NanoBanana.Infrastructure.OpenApi;
using NanoBanana.Infrastructure.Security;
using Wolverine;

namespace NanoBanana.Features.Generation.Compatibility;

/// <summary>
/// The original server's generation routes (and the seed's in-browser Gemini calls, moved behind the
/// server), answered synchronously with <c>{images: [base64], text?}</c>: signed-in only, counted
/// against the user's generation limits, bodies up to GENERATION_MAX_BODY_BYTES. They store nothing.
/// </summary>
public sealed partial class CompatibilityRoutes : ICarterModule
{
    public static readonly string[] Providers = ["gpt-image-1", "flux", "seedream", "gemini"];
    const int MaxInputPictures = 8;

    /// <summary>Whether the request goes to one of these routes (they accept pictures in their bodies).</summary>
    public static bool Handles(PathString path) => Providers.Any(p => path.StartsWithSegments("/api/" + p));

    public void AddRoutes(IEndpointRouteBuilder app)
    {
        foreach (var provider in Providers)
        {
            var routes = app.ProviderRoutes(provider);
            foreach (var edit in new[] { false, true })
            {
                var operation = edit ? "edit" : "generate";
                routes.MapPost($"/{operation}", (HttpContext http, Caller caller, IMessageBus bus, CancellationToken ct) =>
                        Run(http, caller, bus, provider, edit, ct))
                    .WithName($"Compat-{provider}-{operation}")
                    .Example(edit
                        ? new CompatBody { Instruction = "Make the sky purple", OriginalImage = ApiExamples.TinyPng, Size = "1024x1024", N = 1 }
                        : new CompatBody { Prompt = "A banana on the moon", Size = "1024x1024", N = 1 },
                        new CompatImages([ApiExamples.TinyPng], null))
                    .WithSummary($"{provider}: {operation} pictures synchronously (the original server's route)")
                    .Accepts<CompatBody>("application/json", provider == "flux" && edit ? ["multipart/form-data"] : [])
                    .Produces<CompatImages>()
                    .ProducesProblem(400).ProducesProblem(401).ProducesProblem(413).ProducesProblem(422)
                    .ProducesProblem(429).ProducesProblem(502).ProducesProblem(504);
            }
            routes.MapGet("/generate", (HttpContext http, Caller caller, IMessageBus bus, CancellationToken ct) =>
                    MockFromQuery(http, caller, bus, provider, ct))
                .WithName($"Compat-{provider}-generate-mock")
                .Example(null, new CompatImages([ApiExamples.TinyPng], null))
                .WithSummary($"{provider}: a local picture with ?mock=1 (and optional ?prompt=), as the original answered")
                .Produces<CompatImages>().ProducesProblem(400).ProducesProblem(401);
        }
    }

    static async Task<IResult> Run(HttpContext http, Caller caller, IMessageBus bus, string provider, bool edit, CancellationToken ct)
    {
        var inspector = http.RequestServices.GetRequiredService<ImageInspector>();
        var (body, files) = await ReadBody(http, ct);
        await using var _ = files;
        var mock = IsOn(http.Request.Query["mock"]) || IsOn(http.Request.Headers["x-mock"]) || body.Mock == true;

        var prompt = (body.Prompt ?? body.Instruction)?.Trim();
        if (string.IsNullOrEmpty(prompt))
            throw ApiProblem.Validation(edit && body.Prompt is null ? "instruction" : "prompt", "Describe the picture: the prompt is empty.");
        if (prompt.Length > 32_000) throw ApiProblem.Validation("prompt", "The prompt is longer than 32,000 characters.");
        var n = body.N ?? body.MaxImages ?? 1;
        if (n is < 1 or > 4) throw ApiProblem.Validation(body.N is null ? "max_images" : "n", "Ask for 1 to 4 pictures.");
        if (body.Size is { } size && !SizePattern().IsMatch(size))
            throw ApiProblem.Validation("size", "size is WIDTHxHEIGHT (e.g. 1024x1024), auto, 1K, 2K or 4K.");
        if (body.OutputFormat is { } format && format is not ("png" or "jpeg" or "webp"))
            throw ApiProblem.Validation("output_format", "output_format is png, jpeg or webp.");

        var pictures = new List<byte[]>();
        if (files is not null) pictures.AddRange(await files.Pictures("image[]", "image"));
        if (body.OriginalImage is { } original) pictures.Add(original);
        // The original's generate routes of gpt-image-1 and FLUX take no pictures; Seedream's and Gemini's may.
        if (edit || provider is "seedream" or "gemini") pictures.AddRange(body.ReferenceImages ?? []);
        else pictures.Clear();
        if (edit && pictures.Count == 0)
            throw ApiProblem.Validation("originalImage", "Send the picture to edit (originalImage).");
        if (pictures.Count > MaxInputPictures)
            throw ApiProblem.Validation("referenceImages", $"Send at most {MaxInputPictures} pictures.");
        var mask = files is not null && (await files.Pictures("mask")) is [var m, ..] ? m : body.MaskImage;

        var request = new ImageRequest(prompt, [.. pictures.Select(p => Judge(inspector, p))],
            mask is null ? null : Judge(inspector, mask), body.Size, n, body.Seed, body.Quality, body.OutputFormat);
        return TypedResults.Ok(await Invoke(http, caller, bus, provider, request, mock, ct));
    }

    static async Task<IResult> MockFromQuery(HttpContext http, Caller caller, IMessageBus bus, string provider, CancellationToken ct)
    {
        if (!IsOn(http.Request.Query["mock"]) && !IsOn(http.Request.Headers["x-mock"]))
            throw new ApiProblem(400, "bad_request", $"Send the prompt with POST /api/{provider}/generate, or add ?mock=1 for a local picture.");
        var prompt = http.Request.Query["prompt"].ToString() is { Length: > 0 } p ? p : "a mock picture";
        var request = new ImageRequest(prompt, [], Size: http.Request.Query["size"].ToString() is { Length: > 0 } s ? s : null);
        return TypedResults.Ok(await Invoke(http, caller, bus, provider, request, mock: true, ct));
    }

    static Task<CompatImages> Invoke(HttpContext http, Caller caller, IMessageBus bus, string provider, ImageRequest request, bool mock, CancellationToken ct)
    {
        var g = http.RequestServices.GetRequiredService<Settings>().Generation;
        // Wolverine's own timeout must not end a call that the provider pipeline is still allowed to make.
        var longest = TimeSpan.FromSeconds(g.TimeoutSeconds * g.MaxAttempts + 120);
        return bus.InvokeAsync<CompatImages>(new GenerateCompat(caller.UserId, provider, request, mock), ct, longest);
    }

    static InputPicture Judge(ImageInspector inspector, byte[] bytes)
    {
        var path = Path.Combine(Path.GetTempPath(), $"nanobanana-input-{Guid.NewGuid():N}");
        try
        {
            File.WriteAllBytes(path, bytes);
            return new InputPicture(bytes, inspector.Inspect(path).Mime);
        }
        catch (ImageRejectedException e)
        {
            throw ImageIntake.ProblemFor(e);
        }
        finally
        {
            File.Delete(path);
        }
    }

    static bool IsOn(Microsoft.Extensions.Primitives.StringValues value) => value.ToString() is "1" or "true" or "True";

    /// <summary>The body as JSON, or (the seed's fluxService) a multipart form whose files are spooled to temp files.</summary>
    static async Task<(CompatBody Body, FormPictures? Files)> ReadBody(HttpContext http, CancellationToken ct)
    {
        if (http.Request.HasFormContentType)
        {
            var settings = http.RequestServices.GetRequiredService<Settings>();
            var upload = await MultipartUpload.Read(http.Request, settings.Images, MaxInputPictures + 1,
                http.RequestServices.GetRequiredService<TimeProvider>(), ct);
            var form = new FormPictures(upload);
            return (form.Body(), form);
        }
        if (!http.Request.HasJsonContentType())
            throw new ApiProblem(415, "unsupported_media_type", "Send this request as application/json (or multipart/form-data for /api/flux/edit).");
        var body = await JsonSerializer.DeserializeAsync<CompatBody>(http.Request.Body, CompatBody.Options, ct)
            ?? throw new ApiProblem(400, "bad_request", "The body is empty: send a JSON object.");
        return (body, null);
    }

    [GeneratedRegex(@"^(auto|[1-9][0-9]{1,4}[xX][1-9][0-9]{1,4}|[124]K)$")]
    private static partial Regex SizePattern();

    /// <summary>The multipart form of the seed's fluxService: <c>prompt</c>, <c>n</c>, <c>size</c>, <c>output_format</c>, files <c>image[]</c> and <c>mask</c>.</summary>
    sealed class FormPictures(MultipartUpload upload) : IAsyncDisposable
    {
        public CompatBody Body() => new()
        {
            Prompt = upload.Field("prompt"),
            N = int.TryParse(upload.Field("n"), out var n) ? n : upload.Field("n") is null ? null
                : throw ApiProblem.Validation("n", "n is a number from 1 to 4."),
            Size = upload.Field("size"),
            Quality = upload.Field("quality"),
            OutputFormat = upload.Field("output_format"),
            Mock = upload.Field("mock") is "1" or "true" ? true : null,
        };

        public async Task<List<byte[]>> Pictures(params string[] fields)
        {
            var pictures = new List<byte[]>();
            foreach (var field in fields)
                foreach (var file in upload.Files(field))
                    pictures.Add(await File.ReadAllBytesAsync(file.TempPath));
            return pictures;
        }

        public ValueTask DisposeAsync() => upload.DisposeAsync();
    }
}
