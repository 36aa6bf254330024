using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Imaging;

namespace NanoBanana.Features.Images;

/// <summary>
/// An uploaded file spooled to a private temp file while it streamed in (hashed and, if a JPEG, its markers walked on the
/// way: <see cref="JpegReachedEnd"/>). <see cref="ImageId"/>: the id its image gets if it is stored, fixed as it arrives
/// so that a re-run of the upload finds what it stored.
/// </summary>
public sealed record UploadedFile(string FileName, string TempPath, long Length, string Sha256)
{
    public string ImageId { get; init; } = Guid.CreateVersion7().ToString("N");
    public bool JpegReachedEnd { get; init; }
}

/// <summary>
/// A multipart/form-data request read part by part with <see cref="MultipartReader"/>: each file is
/// streamed to a temp file in chunks of up to 256 KiB (never the whole request in memory), its size checked as
/// it arrives (413 the moment it passes the limit), and the temp files are deleted on dispose.
/// A body that sends nothing for <see cref="ImageSettings.UploadIdleSeconds"/> is dropped: Kestrel's
/// minimum data rate averages over the whole body, so a client that sent 10 MB fast and then vanished
/// (no FIN, no RST: a phone that lost its network) would hold its connection and temp files for hours.
/// </summary>
public sealed class MultipartUpload : IAsyncDisposable
{
    const int MaxFieldBytes = 1024;
    const int SpoolChunk = 256 * 1024;
    readonly Dictionary<string, string> _fields = new(StringComparer.OrdinalIgnoreCase);
    readonly List<(string Field, UploadedFile File)> _files = [];

    public string? Field(string name) => _fields.GetValueOrDefault(name);
    public IReadOnlyList<UploadedFile> Files(string field) =>
        _files.Where(f => string.Equals(f.Field, field, StringComparison.OrdinalIgnoreCase)).Select(f => f.File).ToList();

    public static async Task<MultipartUpload> Read(HttpRequest request, ImageSettings limits, int maxFiles, TimeProvider clock, CancellationToken ct)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType)
            || !contentType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
            || HeaderUtilities.RemoveQuotes(contentType.Boundary).Value is not { Length: > 0 and <= 200 } boundary)
            throw new ApiProblem(415, "unsupported_media_type", "Send the upload as multipart/form-data.");

        // The route's own cap on the whole body: every file at its limit plus the form's overhead.
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodyLimit)
            bodyLimit.MaxRequestBodySize = limits.MaxFileBytes * maxFiles + 1024 * 1024;

        var upload = new MultipartUpload();
        var http = request.HttpContext;
        var body = new IdleTimeoutStream(request.Body, TimeSpan.FromSeconds(limits.UploadIdleSeconds), clock, http.Abort);
        try
        {
            // A part's read returns at most what the reader holds: with its default 4 KiB a 3 MiB file took about 800
            // reads, each a hash call, a file write and a timer; 64 KiB (pooled) takes about 50.
            var reader = new MultipartReader(boundary, body, 64 * 1024) { HeadersLengthLimit = 16 * 1024 };
            while (await reader.ReadNextSectionAsync(ct) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                    || !disposition.DispositionType.Equals("form-data")) continue;
                var name = HeaderUtilities.RemoveQuotes(disposition.Name).Value ?? "";
                if (disposition.IsFileDisposition())
                {
                    if (upload._files.Count >= maxFiles)
                        throw ApiProblem.Validation(maxFiles == 1 ? "image" : "images",
                            maxFiles == 1 ? "Send one file in the image field." : $"A batch holds at most {maxFiles} files.");
                    var fileName = HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value;
                    upload._files.Add((name, await Spool(section.Body, limits.UploadTempPath, SafeName(fileName, upload._files.Count), limits.MaxFileBytes, ct)));
                }
                else
                {
                    var buffer = new byte[MaxFieldBytes + 1];
                    var read = await section.Body.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, ct);
                    if (read > MaxFieldBytes) throw ApiProblem.Validation(name, $"The field {name} is too long.");
                    _ = upload._fields.TryAdd(name, Encoding.UTF8.GetString(buffer, 0, read).Trim());
                }
            }
            return upload;
        }
        catch (Exception) when (body.TimedOut)
        {
            await upload.DisposeAsync();
            throw new ApiProblem(StatusCodes.Status408RequestTimeout, "request_timeout",
                $"The upload stalled: nothing arrived for {limits.UploadIdleSeconds} seconds.");
        }
        catch (InvalidDataException e) when (e.Message.Contains("length limit", StringComparison.OrdinalIgnoreCase))
        {
            await upload.DisposeAsync();
            throw new ApiProblem(400, "bad_request", "The multipart body is not valid: " + e.Message);
        }
        catch (IOException e) when (e is Microsoft.AspNetCore.Connections.ConnectionResetException
                                       or BadHttpRequestException { StatusCode: not StatusCodes.Status413PayloadTooLarge })
        {
            // The server's read failed: the body ended before its Content-Length (the client went away half-way)
            // or the connection broke. The connection is let go: with the body half read Kestrel would try to
            // drain the rest, and its reader, left "in progress" by the failed read, makes it log an error.
            await upload.DisposeAsync();
            http.Abort();
            throw new ApiProblem(400, "bad_request", "The multipart body could not be read to its end.");
        }
        catch (Exception e) when (e is InvalidDataException or IOException && e is not BadHttpRequestException)
        {
            // The body itself is malformed (e.g. it ends without its closing boundary): a 400 the client gets.
            await upload.DisposeAsync();
            throw new ApiProblem(400, "bad_request", "The multipart body could not be read to its end.");
        }
        catch
        {
            await upload.DisposeAsync();
            throw;
        }
    }

    static string SafeName(string? name, int index)
    {
        var bare = Path.GetFileName((name ?? "").Replace('\\', '/'));
        bare = new string(bare.Where(c => !char.IsControl(c)).ToArray()).Trim();
        return bare.Length is > 0 and <= 255 ? bare : $"file{index + 1}";
    }

    static async Task<UploadedFile> Spool(Stream body, string folder, string fileName, long maxBytes, CancellationToken ct)
    {
        var path = Path.Combine(UploadSpool.Folder(folder), Guid.NewGuid().ToString("N"));
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var jpeg = new JpegWalk();
        long length = 0;
        // The buffer is filled before each hash and write: a body arrives in pieces of a few KiB, and each write of
        // its own was a system call and (through an async FileStream) a thread-pool hop. Page-cache writes are
        // quick, so they are made synchronously.
        var buffer = ArrayPool<byte>.Shared.Rent(SpoolChunk);
        try
        {
            using var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            int read;
            while ((read = await body.ReadAtLeastAsync(buffer.AsMemory(0, SpoolChunk), SpoolChunk, throwOnEndOfStream: false, ct)) > 0)
            {
                length += read;
                if (length > maxBytes)
                    throw new ApiProblem(413, "payload_too_large",
                        $"{fileName} is larger than the {maxBytes / (1024 * 1024.0):0.#} MiB a file may be.");
                hash.AppendData(buffer, 0, read);
                jpeg.Append(buffer.AsSpan(0, read));
                RandomAccess.Write(file, buffer.AsSpan(0, read), length - read);
            }
        }
        catch
        {
            File.Delete(path);
            throw;
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
        if (length == 0)
        {
            File.Delete(path);
            throw new ApiProblem(400, "empty_file", $"{fileName} is empty.");
        }
        return new UploadedFile(fileName, path, length, Convert.ToHexStringLower(hash.GetHashAndReset())) { JpegReachedEnd = jpeg.ReachedEnd };
    }

    /// <summary>
    /// The request body with a deadline on each read: a read that waits longer than <c>idle</c> aborts
    /// the connection (the pending read then fails). The request's token is checked but not handed to
    /// the server's read: a cancelled read leaves Kestrel's body reader "in progress" and it logs an
    /// error when it drains the body afterwards (dotnet/aspnetcore#17840); an aborted connection ends
    /// the read instead.
    /// </summary>
    sealed class IdleTimeoutStream(Stream inner, TimeSpan idle, TimeProvider clock, Action abort) : Stream
    {
        volatile bool _timedOut;
        public bool TimedOut => _timedOut;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            ct.ThrowIfCancellationRequested();
            await using var deadline = clock.CreateTimer(_ => { _timedOut = true; abort(); }, null, idle, Timeout.InfiniteTimeSpan);
            return await inner.ReadAsync(buffer, CancellationToken.None);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
            ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Uploads are read asynchronously.");
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    public ValueTask DisposeAsync()
    {
        foreach (var (_, file) in _files)
            try { File.Delete(file.TempPath); } catch (IOException) { }
        _files.Clear();
        return ValueTask.CompletedTask;
    }
}
