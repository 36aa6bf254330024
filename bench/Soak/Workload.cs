using System.Text.Json.Nodes;

namespace Soak;

/// <summary>One kind of thing people do, at a steady rate (per second, for the whole population).</summary>
sealed record Activity(string Name, double Rate, string Requests, Func<Task> Run)
{
    long _done;
    public long Done => Interlocked.Read(ref _done);
    public void Ran() => Interlocked.Increment(ref _done);
}

/// <summary>
/// The soak's mix: what a population of signed-in users with several devices does in a chat-style
/// image editor, each activity on its own steady schedule. Every request is one the API must accept,
/// so anything but a 2xx is a finding.
/// </summary>
sealed class Workload(Run run, IReadOnlyList<User> users, IReadOnlyList<Picture> pictures)
{
    readonly Api _api = run.Api;
    static Random R => Random.Shared;

    long _typingSent, _pingsSent, _reconnects, _vanished, _switched, _recoveries, _uploads, _idempotentReplays;
    public long TypingSent => _typingSent;
    public long PingsSent => _pingsSent;
    public long Reconnects => _reconnects;
    public long Vanished => _vanished;
    public long Switched => _switched;
    public long Recoveries => _recoveries;
    public long IdempotentReplays => _idempotentReplays;

    /// <summary>Images uploaded into the users' lasting chats: each must turn ready.</summary>
    public List<(User User, string ImageId)> Uploaded { get; } = [];

    public IReadOnlyList<Activity> Activities(double scale) =>
    [
        new("read the latest page of a chat (or an older one)", 12 * scale, "GET /api/sessions/:id/messages", ReadPage),
        new("list sessions (a fifth with a title filter)", 4 * scale, "GET /api/sessions", ListSessions),
        new("open a session: its record and stats", 2 * scale, "GET /api/sessions/:id, /stats", OpenSession),
        new("read one message and its revisions", 1 * scale, "GET /api/messages/:id, /revisions", ReadMessage),
        new("post a message (a fifth with an image, a tenth with Idempotency-Key)", 5 * scale, "POST /api/sessions/:id/messages", PostMessage),
        new("edit a message's text", 1 * scale, "PUT /api/messages/:id", EditMessage),
        new("delete a message", 0.5 * scale, "DELETE /api/messages/:id", DeleteMessage),
        new("search the user's messages", 2 * scale, "GET /api/search", Search),
        new("upload one image", 0.5 * scale, "POST /api/images/upload", UploadOne),
        new("upload a batch of 2-3 images", 0.05 * scale, "POST /api/images/upload/batch", UploadBatch),
        new("read images (one with fresh URLs, a session's, all) and load a thumbnail", 1 * scale, "GET /api/images/..., blob URL", ReadImages),
        new("attach an image to a message, then maybe detach it", 0.3 * scale, "POST/DELETE /api/messages/:id/images", AttachImage),
        new("catch up over HTTP", 1 * scale, "GET /api/sync", SyncOverHttp),
        new("refresh the access token (4 in 5 rotate the refresh token)", 0.5 * scale, "POST /api/auth/refresh", Refresh),
        new("read the profile (a tenth also change the avatar)", 0.5 * scale, "GET/PUT /api/auth/me", Me),
        new("socket frames: typing or ping", 1 * scale, "WS typing / ping", SocketFrame),
        new("reconnect a socket with since (2 in 5 vanish without a close frame, 3 in 10 switch chats)", 0.25 * scale, "WS /ws/:id?since=", Reconnect),
        new("a short chat: create, post, upload 2 (one used, one deleted), rename, delete the chat", 0.05 * scale, "POST/PATCH/DELETE /api/sessions..., DELETE /api/images/:id", ShortChat),
        new("a device signs in, looks, signs out", 0.033 * scale, "POST /api/auth/login, logout", SignInOut),
    ];

    User AnyUser() => users[R.Next(users.Count)];
    static Device AnyDevice(User u) => u.Devices[R.Next(u.Devices.Count)];

    // Most activity happens in the chat two of the devices have open.
    static Chat AnyChat(User u)
    {
        var p = R.NextDouble();
        return u.Chats[p < 0.6 || u.Chats.Count == 1 ? 0 : p < 0.85 || u.Chats.Count == 2 ? 1 : R.Next(2, u.Chats.Count)];
    }

    // --- reads ---

    async Task ReadPage()
    {
        var u = AnyUser();
        var chat = AnyChat(u);
        var latest = Math.Max(0, chat.Count - 50);
        var offset = R.NextDouble() < 0.7 ? latest : R.Next(0, latest + 1);
        await _api.Get("/api/sessions/:id/messages", $"/api/sessions/{chat.Id}/messages?limit=50&offset={offset}", AnyDevice(u).Token);
    }

    async Task ListSessions()
    {
        var u = AnyUser();
        var q = R.NextDouble() < 0.2 ? $"&q={Uri.EscapeDataString(Texts.TitleWord())}" : "";
        await _api.Get("/api/sessions", $"/api/sessions?limit=20&offset=0{q}", AnyDevice(u).Token);
    }

    async Task OpenSession()
    {
        var u = AnyUser();
        var chat = AnyChat(u);
        var token = AnyDevice(u).Token;
        await _api.Get("/api/sessions/:id", $"/api/sessions/{chat.Id}", token);
        await _api.Get("/api/sessions/:id/stats", $"/api/sessions/{chat.Id}/stats", token);
    }

    async Task ReadMessage()
    {
        var u = AnyUser();
        if (AnyChat(u).AnyKept() is not { } id) return;
        var token = AnyDevice(u).Token;
        await _api.Get("/api/messages/:id", $"/api/messages/{id}", token);
        await _api.Get("/api/messages/:id/revisions", $"/api/messages/{id}/revisions", token);
    }

    async Task Search()
    {
        var u = AnyUser();
        await _api.Get("/api/search", $"/api/search?q={Uri.EscapeDataString(Texts.Query())}&limit=20", AnyDevice(u).Token);
    }

    async Task SyncOverHttp()
    {
        var u = AnyUser();
        var d = AnyDevice(u);
        var since = Math.Max(0, d.LastSeq - R.Next(0, 40));
        await _api.Get("/api/sync", $"/api/sync?since={since}&limit=100", d.Token);
    }

    async Task Me()
    {
        var u = AnyUser();
        var token = AnyDevice(u).Token;
        await _api.Get("/api/auth/me", "/api/auth/me", token);
        if (R.NextDouble() < 0.1)
            await _api.Put("/api/auth/me", "/api/auth/me", token, new { avatar = $"https://example.com/avatars/{u.Name}-{R.Next(100)}.png" });
    }

    // --- writes ---

    public async Task<string?> Post(User u, Chat chat, string token, string role, string text, string[] imageIds, string? idempotencyKey = null)
    {
        object body = role == "assistant"
            ? new { role, text, imageIds, @params = new { model = "nano-banana", seed = R.Next(), aspectRatio = "4:3", steps = 30 } }
            : new { role, text, imageIds };
        var reply = await _api.Post("/api/sessions/:id/messages", $"/api/sessions/{chat.Id}/messages", token, body, idempotencyKey);
        if (!reply.Ok) return null;
        var id = reply["messageData"]?["id"]?.GetValue<string>();
        if (idempotencyKey is not null && R.NextDouble() < 0.5)
        {
            // A client retry after a lost answer: the same message, never a second one.
            var again = await _api.Post("/api/sessions/:id/messages", $"/api/sessions/{chat.Id}/messages", token, body, idempotencyKey);
            Interlocked.Increment(ref _idempotentReplays);
            if (again.Ok && again["messageData"]?["id"]?.GetValue<string>() != id)
                _api.Surprise($"an Idempotency-Key retry created another message ({id} then {again["messageData"]?["id"]})");
        }
        return id;
    }

    async Task PostMessage()
    {
        var u = AnyUser();
        var chat = AnyChat(u);
        var image = R.NextDouble() < 0.2 ? chat.AnyImage() : null;
        var assistant = R.NextDouble() < 0.3;
        var key = R.NextDouble() < 0.1 ? Guid.NewGuid().ToString("N") : null;
        var id = await Post(u, chat, AnyDevice(u).Token, assistant ? "assistant" : "user", Texts.Prompt(), image is null ? [] : [image], key);
        if (id is not null) chat.Added(id, editable: true);
    }

    async Task EditMessage()
    {
        var u = AnyUser();
        var chat = AnyChat(u);
        if (chat.Take() is not { } id) return;
        var reply = await _api.Put("/api/messages/:id", $"/api/messages/{id}", AnyDevice(u).Token, new { text = Texts.Prompt() + " (edited)" });
        // Half of the edited messages stay for good: reads (revisions) pick from those.
        chat.Return(id, keep: reply.Ok && R.NextDouble() < 0.5);
    }

    async Task DeleteMessage()
    {
        var u = AnyUser();
        var chat = AnyChat(u);
        if (chat.Take() is not { } id) return;
        var reply = await _api.Delete("/api/messages/:id", $"/api/messages/{id}", AnyDevice(u).Token);
        if (reply.Ok) chat.Deleted();
        else chat.Return(id, keep: false);
    }

    async Task AttachImage()
    {
        var u = AnyUser();
        var chat = AnyChat(u);
        if (chat.AnyImage() is not { } imageId) return;
        if (chat.Take() is not { } id) return;
        var token = AnyDevice(u).Token;
        var attached = await _api.Post("/api/messages/:id/images", $"/api/messages/{id}/images", token, new { imageId });
        if (attached.Ok && R.NextDouble() < 0.5)
            await _api.Delete("/api/messages/:id/images/:imageId", $"/api/messages/{id}/images/{imageId}", token);
        chat.Return(id, keep: false);
    }

    // --- images ---

    Picture AnyPicture() => pictures[R.Next(pictures.Count)];

    public async Task<IReadOnlyList<string>> Upload(User u, string sessionId, string token, int files, bool keep)
    {
        var picked = Enumerable.Range(0, files).Select(_ => AnyPicture()).ToList();
        using var form = new MultipartFormDataContent();
        foreach (var p in picked)
        {
            var file = new ByteArrayContent(p.Bytes);
            file.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(p.Mime);
            form.Add(file, files == 1 ? "image" : "images", p.FileName);
        }
        form.Add(new StringContent(sessionId), "sessionId");
        form.Add(new StringContent("uploaded"), "type");
        var (route, path) = files == 1 ? ("/api/images/upload", "/api/images/upload") : ("/api/images/upload/batch", "/api/images/upload/batch");
        var reply = await _api.Send(route, HttpMethod.Post, path, token, form);
        if (!reply.Ok) return [];
        var images = files == 1
            ? [reply["image"]!]
            : reply["results"]!["successful"]!.AsArray().Select(n => n!).ToList();
        var ids = images.Select(i => i["id"]!.GetValue<string>()).ToList();
        Interlocked.Add(ref _uploads, ids.Count);
        if (keep) lock (Uploaded) Uploaded.AddRange(ids.Select(id => (u, id)));
        return ids;
    }

    async Task UploadOne()
    {
        var u = AnyUser();
        var chat = AnyChat(u);
        foreach (var id in await Upload(u, chat.Id, AnyDevice(u).Token, 1, keep: true)) chat.ImageAdded(id);
    }

    async Task UploadBatch()
    {
        var u = AnyUser();
        var chat = AnyChat(u);
        foreach (var id in await Upload(u, chat.Id, AnyDevice(u).Token, R.Next(2, 4), keep: true)) chat.ImageAdded(id);
    }

    async Task ReadImages()
    {
        var u = AnyUser();
        var chat = AnyChat(u);
        var token = AnyDevice(u).Token;
        if (chat.AnyImage() is { } imageId)
        {
            var image = await _api.Get("/api/images/:id", $"/api/images/{imageId}", token);
            var thumbs = image["image"]?["thumbnails"]?.AsArray();
            if (image["image"]?["status"]?.GetValue<string>() == "ready" && thumbs is { Count: > 0 } && R.NextDouble() < 0.5)
                await _api.Fetch("GET thumbnail (signed URL)", thumbs[R.Next(thumbs.Count)]!["url"]!.GetValue<string>());
        }
        if (R.NextDouble() < 0.5) await _api.Get("/api/images/session/:id", $"/api/images/session/{chat.Id}?limit=20", token);
        else await _api.Get("/api/images/user/all", "/api/images/user/all?limit=20", token);
    }

    // --- sign-in ---

    Task Refresh()
    {
        var u = AnyUser();
        return Refresh(AnyDevice(u), rotate: R.NextDouble() < 0.8);
    }

    async Task Refresh(Device d, bool rotate)
    {
        await d.Busy.WaitAsync();
        try
        {
            if (rotate)
            {
                var reply = await _api.Post("/api/auth/refresh", "/api/auth/refresh", null, new { refreshToken = d.RefreshToken });
                if (reply.Ok)
                {
                    d.Token = reply["token"]!.GetValue<string>();
                    d.RefreshToken = reply["refreshToken"]!.GetValue<string>();
                }
            }
            else
            {
                // The seed client's flow: no body, the still-valid access token.
                var reply = await _api.Post("/api/auth/refresh", "/api/auth/refresh", d.Token, null);
                if (reply.Ok) d.Token = reply["token"]!.GetValue<string>();
            }
        }
        finally { d.Busy.Release(); }
    }

    async Task SignInOut()
    {
        var u = AnyUser();
        var login = await _api.Post("/api/auth/login", "/api/auth/login", null, new { email = u.Email, password = u.Password });
        if (!login.Ok) return;
        var token = login["token"]!.GetValue<string>();
        await _api.Get("/api/auth/me", "/api/auth/me", token);
        await _api.Get("/api/sessions", "/api/sessions?limit=20&offset=0", token);
        await _api.Post("/api/auth/logout", "/api/auth/logout", token, new { refreshToken = login["refreshToken"]!.GetValue<string>() });
    }

    // --- sessions that come and go ---

    async Task ShortChat()
    {
        var u = AnyUser();
        var token = AnyDevice(u).Token;
        var created = await _api.Post("/api/sessions", "/api/sessions", token, new { });
        if (created["session"]?["id"]?.GetValue<string>() is not { } sessionId) return;
        var chat = new Chat(sessionId);
        for (var i = 0; i < 3; i++)
            await Post(u, chat, token, i % 2 == 0 ? "user" : "assistant", Texts.Prompt(), []);
        // An image whose thumbnails may still be in the making when its session goes.
        var images = await Upload(u, sessionId, token, 2, keep: false);
        if (images.Count > 0) await Post(u, chat, token, "user", Texts.Prompt(), [images[0]]);
        // The other one was never used: deleting it is allowed (the one in the message would answer 409).
        if (images.Count > 1) await _api.Delete("/api/images/:id", $"/api/images/{images[1]}", token);
        await _api.Patch("/api/sessions/:id", $"/api/sessions/{sessionId}", token, new { title = "Tidy " + Texts.TitleWord() });
        await _api.Get("/api/sessions/:id/messages", $"/api/sessions/{sessionId}/messages?limit=50&offset=0", token);
        await _api.Delete("/api/sessions/:id", $"/api/sessions/{sessionId}", token);
    }

    // --- sockets ---

    async Task SocketFrame()
    {
        var u = AnyUser();
        var d = AnyDevice(u);
        if (!await d.Busy.WaitAsync(0)) return;
        try
        {
            if (!d.IsOpen) return; // the watchdog reconnects it
            if (R.NextDouble() < 0.6)
            {
                await d.SendFrame(System.Text.Json.JsonSerializer.Serialize(new { type = "typing", payload = new { sessionId = d.Current.SessionId, isTyping = R.NextDouble() < 0.7 } }));
                Interlocked.Increment(ref _typingSent);
            }
            else
            {
                await d.SendFrame("""{"type":"ping","payload":{}}""");
                Interlocked.Increment(ref _pingsSent);
            }
        }
        catch (Exception e) when (e is System.Net.WebSockets.WebSocketException or OperationCanceledException)
        {
            _api.Surprise($"a client frame could not be sent: {e.Message}");
        }
        finally { d.Busy.Release(); }
    }

    async Task Reconnect()
    {
        var u = AnyUser();
        var d = AnyDevice(u);
        if (!await d.Busy.WaitAsync(0)) return;
        try
        {
            var vanish = R.NextDouble() < 0.4;
            var switchChat = R.NextDouble() < 0.3;
            var session = switchChat ? u.Chats[R.Next(u.Chats.Count)].Id : d.Current.SessionId;
            await d.Close(vanish);
            await d.Open(run.WsBase, session, d.LastSeq);
            Interlocked.Increment(ref _reconnects);
            if (vanish) Interlocked.Increment(ref _vanished);
            if (session != d.Epochs[^2].SessionId) Interlocked.Increment(ref _switched);
        }
        catch (Exception e) when (e is System.Net.WebSockets.WebSocketException or TimeoutException or OperationCanceledException)
        {
            _api.Surprise($"a reconnect of {u.Name}'s device {d.Index} failed: {e.Message}");
        }
        finally { d.Busy.Release(); }
    }

    /// <summary>
    /// What a client does on its own: refresh an access token before it expires (15 minutes; the mix's
    /// random refreshes may miss a device for that long), and reopen with since a socket the server closed
    /// on its own (reported: it should not happen).
    /// </summary>
    public async Task Recover()
    {
        foreach (var d in users.SelectMany(u => u.Devices))
            if (System.Diagnostics.Stopwatch.GetElapsedTime(d.TokenAt) > TimeSpan.FromMinutes(10))
                await Refresh(d, rotate: true);
        foreach (var d in users.SelectMany(u => u.Devices))
        {
            if (d.IsOpen || !await d.Busy.WaitAsync(0)) continue;
            try
            {
                if (d.IsOpen) continue;
                _api.Surprise($"{d.User.Name}'s device {d.Index} lost its socket ({d.Current.ClosedBy ?? "closed"}); reconnecting with since");
                Interlocked.Increment(ref _recoveries);
                await d.Close(vanish: true);
                await d.Open(run.WsBase, d.Current.SessionId, d.LastSeq);
            }
            catch (Exception e) when (e is System.Net.WebSockets.WebSocketException or TimeoutException or OperationCanceledException)
            {
                _api.Surprise($"recovering {d.User.Name}'s device {d.Index} failed: {e.Message}");
            }
            finally { d.Busy.Release(); }
        }
    }
}

/// <summary>Chat-like texts: English prompts with some accents, some Chinese and Japanese.</summary>
static class Texts
{
    static readonly string[] Words =
    [
        "make", "the", "sky", "sunset", "beach", "brighter", "add", "a", "cat", "dog", "on", "left", "remove", "background",
        "portrait", "café", "neon", "city", "rain", "watercolor", "style", "zoom", "crop", "square", "warmer", "light",
        "mountain", "lake", "reflection", "vintage", "film", "grain", "smile", "hat", "garden", "flowers", "résumé", "photo",
    ];
    static readonly string[] Cjk = ["把背景换成海滩", "让天空更蓝一点", "添加一只猫", "夕焼けの空にして", "背景をぼかして", "写真を明るく"];
    static readonly string[] Queries = ["sunset", "beach", "cat", "bri", "cafe", "neon city", "背景", "夕焼け", "water", "s", "mountain lake", "海滩"];

    static Random R => Random.Shared;

    public static string Prompt()
    {
        if (R.NextDouble() < 0.12) return Cjk[R.Next(Cjk.Length)] + (R.NextDouble() < 0.3 ? " sunset" : "");
        var n = R.Next(5, 18);
        return string.Join(' ', Enumerable.Range(0, n).Select(_ => Words[(int)(Math.Pow(R.NextDouble(), 1.6) * Words.Length)]));
    }

    public static string Query() => Queries[R.Next(Queries.Length)];
    public static string TitleWord() => Words[R.Next(Words.Length)];
}
