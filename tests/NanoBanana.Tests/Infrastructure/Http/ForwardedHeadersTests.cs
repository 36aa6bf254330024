using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace NanoBanana.Tests.Infrastructure.Http;

/// <summary>
/// X-Forwarded-For counts only from a proxy named in <c>KNOWN_PROXIES</c> (issue 19, finding 9): a client that
/// reaches the app directly cannot pick its address to dodge the per-address limits. Real sockets, each
/// client bound to a loopback source address of its own, so the app sees a real peer address.
/// </summary>
public sealed class ForwardedHeadersTests(AppFixture app) : IntegrationContext(app)
{
    [Fact]
    public async Task A_client_that_is_not_a_known_proxy_cannot_choose_its_address_for_the_limits()
    {
        var peer = OwnLoopbackAddress();
        var statuses = await ThreeSignInsFromForgedAddresses(peer, knownProxies: null);
        Assert.Equal(new[] { 401, 401, 429 }, statuses);
    }

    [Fact]
    public async Task A_known_proxy_forwards_each_client_address_to_its_own_limit()
    {
        var peer = OwnLoopbackAddress();
        var statuses = await ThreeSignInsFromForgedAddresses(peer, knownProxies: peer.ToString());
        Assert.Equal(new[] { 401, 401, 401 }, statuses);
    }

    /// <summary>Three failed sign-ins from <paramref name="peer"/>, each naming another client in X-Forwarded-For, against a limit of 2 per address.</summary>
    static async Task<int[]> ThreeSignInsFromForgedAddresses(IPAddress peer, string? knownProxies)
    {
        // A stopped clock: the three fall in one window of the per-minute limit.
        var now = DateTimeOffset.UtcNow;
        var clock = new FakeTimeProvider(new DateTimeOffset(now.Ticks - now.Ticks % TimeSpan.TicksPerMinute, TimeSpan.Zero));
        var settings = new Dictionary<string, string?> { ["PASSWORD_RATE_PER_ADDRESS"] = "2" };
        if (knownProxies is not null) settings["KNOWN_PROXIES"] = knownProxies;
        using var server = LiveServer.Start(settings, s => s.AddSingleton<TimeProvider>(clock));
        using var http = new HttpClient(BoundTo(peer)) { BaseAddress = server.Address };

        var statuses = new List<int>();
        var b = Guid.NewGuid().ToByteArray(); // clients no other test names, so their counts start at zero
        foreach (var client in new[] { $"198.18.{b[0]}.{b[1]}", $"198.18.{b[2]}.{b[3]}", $"198.19.{b[4]}.{b[5]}" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/auth/login")
            {
                Content = JsonContent.Create(new { email = $"{Guid.NewGuid():N}@example.com", password = "not the password 1" }),
            };
            request.Headers.Add("X-Forwarded-For", client);
            statuses.Add((int)(await http.SendAsync(request)).StatusCode);
        }
        return statuses.ToArray();
    }

    /// <summary>An address in 127.0.0.0/8 no other test uses, so its limit counts start at zero.</summary>
    static IPAddress OwnLoopbackAddress()
    {
        var b = Guid.NewGuid().ToByteArray();
        return new IPAddress([127, (byte)(100 + b[0] % 100), b[1], (byte)(1 + b[2] % 250)]);
    }

    static SocketsHttpHandler BoundTo(IPAddress local) => new()
    {
        ConnectCallback = async (context, ct) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(local, 0));
                await socket.ConnectAsync(context.DnsEndPoint, ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };
}
