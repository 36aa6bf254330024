using System.IO.Compression;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace HostileSweep;

/// <summary>A registered user and what the sweep created for it.</summary>
public sealed class Person
{
    public required string Id { get; init; }
    public required string Email { get; init; }
    public required string Username { get; init; }
    public required string Password { get; init; }
    public required string Token { get; set; }
    public required string RefreshToken { get; set; }
    public string Device => Tokens.ReadClaims(Token)["did"]!.GetValue<string>();
    public List<string> Sessions { get; } = [];
    public List<string> Messages { get; } = [];
    public List<string> Images { get; } = [];
}

/// <summary>
/// The people of the sweep: a victim whose data nobody but the victim may read or change (and whose
/// data is compared before and after), and an attacker who sends the hostile requests with a valid
/// account of its own.
/// </summary>
public sealed class Cast(HttpClient http, Func<Func<Task>, Task> settle)
{
    /// <summary>Marks the victim's data: no answer to anybody else may contain it.</summary>
    public const string Marker = "VictimSecretMarker";
    public const string Password = "correct horse battery staple";

    public Person Victim { get; private set; } = null!;
    public Person Attacker { get; private set; } = null!;
    /// <summary>An Idempotency-Key the victim used to create a session; the attacker reuses it.</summary>
    public string VictimIdempotencyKey { get; } = "shared-key-" + Guid.NewGuid().ToString("N")[..8];
    public string? VictimBlobPath { get; private set; }

    public async Task Create()
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        Victim = await Register($"victim.{run}@example.com", $"victim_{run}");
        var v = Victim;
        v.Sessions.Add(await CreateSession(v, $"{Marker} plans", VictimIdempotencyKey));
        v.Sessions.Add(await CreateSession(v, $"{Marker} second"));
        v.Messages.Add(await PostMessage(v, v.Sessions[0], $"{Marker} alpha message about cats"));
        v.Messages.Add(await PostMessage(v, v.Sessions[0], $"{Marker} beta message about dogs"));
        v.Messages.Add(await PostMessage(v, v.Sessions[1], $"{Marker} gamma 猫の写真"));
        await Send(v, HttpMethod.Put, $"/api/messages/{v.Messages[0]}", new { text = $"{Marker} alpha edited" });
        var image = "";
        await settle(async () => image = await Upload(v, v.Sessions[0], Png.Make(48, 32)));
        v.Images.Add(image);
        await Send(v, HttpMethod.Post, $"/api/messages/{v.Messages[1]}/images", new { imageId = image });
        var dto = await Send(v, HttpMethod.Get, $"/api/images/{image}", null);
        if (dto["image"]?["url"]?.GetValue<string>() is { } url && url.Contains("/blobs/", StringComparison.Ordinal))
            VictimBlobPath = url[url.IndexOf("/blobs/", StringComparison.Ordinal)..];

        Attacker = await Register($"attacker.{run}@example.com", $"attacker_{run}");
        await RefreshAttacker();
    }

    /// <summary>Resources of the attacker, made afresh where its own requests deleted them (a session, a message in it, an image).</summary>
    public async Task RefreshAttacker()
    {
        var a = Attacker;
        // A logout probe ends the attacker's device, and with it its access token: sign in again.
        if (!await Exists(a, "/api/auth/me"))
        {
            var body = await Send(null, HttpMethod.Post, "/api/auth/login", new { email = a.Email, password = a.Password });
            a.Token = body["token"]!.GetValue<string>();
            a.RefreshToken = body["refreshToken"]!.GetValue<string>();
        }
        var fresh = a.Sessions.Count == 0 || !await Exists(a, $"/api/sessions/{a.Sessions[0]}");
        if (fresh) a.Sessions.Insert(0, await CreateSession(a, "attacker session"));
        if (fresh || !await Exists(a, $"/api/messages/{a.Messages[0]}"))
            a.Messages.Insert(0, await PostMessage(a, a.Sessions[0], "attacker message"));
        if (fresh || !await Exists(a, $"/api/images/{a.Images[0]}"))
        {
            var image = "";
            await settle(async () => image = await Upload(a, a.Sessions[0], Png.Make(16, 16)));
            a.Images.Insert(0, image);
        }
    }

    async Task<bool> Exists(Person p, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", p.Token);
        using var response = await http.SendAsync(request);
        return response.IsSuccessStatusCode;
    }

    public async Task<Person> Register(string email, string username)
    {
        var body = await Send(null, HttpMethod.Post, "/api/auth/register", new { email, username, password = Password });
        return new Person
        {
            Id = body["user"]!["id"]!.GetValue<string>(), Email = email, Username = username, Password = Password,
            Token = body["token"]!.GetValue<string>(), RefreshToken = body["refreshToken"]!.GetValue<string>(),
        };
    }

    async Task<string> CreateSession(Person p, string title, string? idempotencyKey = null)
    {
        var headers = idempotencyKey is null ? null : new Dictionary<string, string> { ["Idempotency-Key"] = idempotencyKey };
        return (await Send(p, HttpMethod.Post, "/api/sessions", new { title }, headers))["session"]!["id"]!.GetValue<string>();
    }

    async Task<string> PostMessage(Person p, string session, string text) =>
        (await Send(p, HttpMethod.Post, $"/api/sessions/{session}/messages", new { role = "user", text, imageIds = Array.Empty<string>() }))
            ["messageData"]!["id"]!.GetValue<string>();

    public async Task<string> Upload(Person p, string session, byte[] png)
    {
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(png);
        file.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        form.Add(file, "image", "picture.png");
        form.Add(new StringContent(session), "sessionId");
        form.Add(new StringContent("uploaded"), "type");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/images/upload") { Content = form };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", p.Token);
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"upload failed: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!["image"]!["id"]!.GetValue<string>();
    }

    public async Task<JsonObject> Send(Person? p, HttpMethod method, string path, object? body, IDictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = JsonContent.Create(body);
        if (p is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", p.Token);
        foreach (var (k, v) in headers ?? new Dictionary<string, string>()) request.Headers.TryAddWithoutValidation(k, v);
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"setup request {method} {path} failed: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!.AsObject();
    }
}

/// <summary>A small valid PNG (a colour gradient), made here so the sweep needs no files.</summary>
public static class Png
{
    public static byte[] Make(int width, int height)
    {
        var raw = new MemoryStream();
        for (var y = 0; y < height; y++)
        {
            raw.WriteByte(0); // filter: none
            for (var x = 0; x < width; x++)
            {
                raw.WriteByte((byte)(x * 255 / Math.Max(1, width - 1)));
                raw.WriteByte((byte)(y * 255 / Math.Max(1, height - 1)));
                raw.WriteByte(128);
            }
        }
        var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true)) raw.WriteTo(z);

        var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        WriteBigEndian(ihdr, 0, width);
        WriteBigEndian(ihdr, 4, height);
        ihdr[8] = 8; // bit depth
        ihdr[9] = 2; // colour type: RGB
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "IDAT", compressed.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    static void Chunk(Stream s, string type, byte[] data)
    {
        var head = new byte[4];
        WriteBigEndian(head, 0, data.Length);
        s.Write(head);
        var typeBytes = Encoding.ASCII.GetBytes(type);
        s.Write(typeBytes);
        s.Write(data);
        var crc = Crc32(typeBytes.Concat(data).ToArray());
        WriteBigEndian(head, 0, (int)crc);
        s.Write(head);
    }

    static void WriteBigEndian(byte[] b, int at, int v)
    {
        b[at] = (byte)(v >> 24); b[at + 1] = (byte)(v >> 16); b[at + 2] = (byte)(v >> 8); b[at + 3] = (byte)v;
    }

    static uint Crc32(byte[] data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }
}
