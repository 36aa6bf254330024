using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Time.Testing;
using NanoBanana.Features.Images;
using NanoBanana.Infrastructure.Configuration;
using NanoBanana.Infrastructure.Http;

namespace NanoBanana.Tests.Features.Images;

/// <summary>
/// A client that goes silent half-way through an upload with its connection left open (a phone that lost
/// its network). Kestrel's minimum data rate is an average over the whole body, so after a fast first half
/// it would hold such a request, its connection and its temp file for hours (found by the leak drill).
/// The multipart reader drops it after the idle timeout instead. Deterministic: the request's body is
/// a stream that stalls, and the clock is a fake one.
/// </summary>
public sealed class BrokenUploadTests
{
    const string Boundary = "stall-boundary";

    [Fact]
    public async Task An_upload_silent_for_the_idle_timeout_is_aborted_408_and_its_temp_file_deleted()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var body = Body(out _);

        var lifetime = new Lifetime();
        var http = new DefaultHttpContext();
        http.Features.Set<IHttpRequestLifetimeFeature>(lifetime);
        var stalling = new StallingBody(body.AsMemory(0, body.Length / 2), lifetime.RequestAborted);
        http.Request.Body = stalling;
        http.Request.ContentType = $"multipart/form-data; boundary={Boundary}";

        var temp = Path.Combine(Path.GetTempPath(), "nanobanana-tests", Guid.NewGuid().ToString("N"), "spool");
        var limits = new ImageSettings { UploadIdleSeconds = 30, UploadTempPath = temp };
        var reading = MultipartUpload.Read(http.Request, limits, 1, clock, http.RequestAborted);
        await stalling.Stalled.WaitAsync(TimeSpan.FromSeconds(30)); // the reader has the first half and asks for more
        Assert.Single(Directory.GetFiles(temp, "*", SearchOption.AllDirectories)); // the control: the file is being spooled

        clock.Advance(TimeSpan.FromSeconds(29));
        Assert.False(reading.IsCompleted);
        Assert.False(lifetime.Aborted);

        clock.Advance(TimeSpan.FromSeconds(1));
        var problem = await Assert.ThrowsAsync<ApiProblem>(() => reading.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(408, problem.Status);
        Assert.Equal("request_timeout", problem.Code);
        Assert.True(lifetime.Aborted); // the connection is let go, not only the request
        Assert.Empty(Directory.GetFiles(temp, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task An_upload_whose_client_went_away_half_way_aborts_the_connection_and_deletes_its_temp_file()
    {
        // The client closed (FIN) or reset its connection after half of the body: the server's read fails.
        // The connection is aborted rather than kept: with the body half read, Kestrel would otherwise try to
        // drain the rest and log an error (its reader is left "in progress"; seen in the leak drill).
        var body = Body(out _);
        var lifetime = new Lifetime();
        var http = new DefaultHttpContext();
        http.Features.Set<IHttpRequestLifetimeFeature>(lifetime);
        http.Request.Body = new TruncatedBody(body.AsMemory(0, body.Length / 2));
        http.Request.ContentType = $"multipart/form-data; boundary={Boundary}";
        var temp = Path.Combine(Path.GetTempPath(), "nanobanana-tests", Guid.NewGuid().ToString("N"), "spool");

        var problem = await Assert.ThrowsAsync<ApiProblem>(() =>
            MultipartUpload.Read(http.Request, new ImageSettings { UploadTempPath = temp }, 1, TimeProvider.System, http.RequestAborted));
        Assert.Equal(400, problem.Status);
        Assert.True(lifetime.Aborted);
        Assert.True(Directory.Exists(temp)); // the control: a temp file was started
        Assert.Empty(Directory.GetFiles(temp, "*", SearchOption.AllDirectories));
    }

    static byte[] Body(out byte[] file)
    {
        file = RandomNumberGenerator.GetBytes(1024 * 1024);
        return Encoding.ASCII.GetBytes($"--{Boundary}\r\nContent-Disposition: form-data; name=\"sessionId\"\r\n\r\ns1\r\n" +
                                       $"--{Boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n")
            .Concat(file).Concat(Encoding.ASCII.GetBytes($"\r\n--{Boundary}--\r\n")).ToArray();
    }

    /// <summary>Gives <paramref name="first"/>, then fails as Kestrel's body does when the client went away mid-body.</summary>
    sealed class TruncatedBody(ReadOnlyMemory<byte> first) : StallingBody(first, CancellationToken.None)
    {
        protected override Task<int> AfterFirst(CancellationToken ct) =>
            throw new BadHttpRequestException("Unexpected end of request content.", StatusCodes.Status400BadRequest);
    }

    sealed class Lifetime : IHttpRequestLifetimeFeature
    {
        readonly CancellationTokenSource _aborted = new();
        public CancellationToken RequestAborted { get => _aborted.Token; set { } }
        public bool Aborted => _aborted.IsCancellationRequested;
        public void Abort() => _aborted.Cancel();
    }

    /// <summary>Gives <paramref name="first"/>, then a read that never completes until the connection is aborted (as Kestrel's does).</summary>
    class StallingBody(ReadOnlyMemory<byte> first, CancellationToken aborted) : Stream
    {
        readonly TaskCompletionSource _stalled = new(TaskCreationOptions.RunContinuationsAsynchronously);
        int _at;
        public Task Stalled => _stalled.Task;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            if (_at < first.Length)
            {
                var n = Math.Min(buffer.Length, first.Length - _at);
                first.Slice(_at, n).CopyTo(buffer);
                _at += n;
                return n;
            }
            _stalled.TrySetResult();
            return await AfterFirst(ct);
        }

        protected virtual async Task<int> AfterFirst(CancellationToken ct)
        {
            using var both = CancellationTokenSource.CreateLinkedTokenSource(ct, aborted);
            await new TaskCompletionSource().Task.WaitAsync(both.Token); // a read that never completes: ends only by cancellation
            return 0;
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) => ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _at; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
