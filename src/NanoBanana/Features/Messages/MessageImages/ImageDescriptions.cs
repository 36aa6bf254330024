using System.Globalization;
using Microsoft.Extensions.DependencyInjection.Extensions;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Features.Messages.MessageImages;

/// <summary>
/// How the messages feature shows a message's images (<c>GET /api/messages/:id/images</c>). The images
/// feature knows URLs and thumbnails: it registers its own implementation, which replaces
/// <see cref="StoredImageDescriptions"/> (registered with TryAdd).
/// </summary>
public interface IImageDescriptions
{
    Task<IReadOnlyList<ImageDto>> Describe(string userId, IReadOnlyList<string> imageIds, CancellationToken ct);
}

/// <summary>The image records as stored (Keys.Image), without URLs: what can be said without the images feature.</summary>
public sealed class StoredImageDescriptions(IDatabase db) : IImageDescriptions
{
    public async Task<IReadOnlyList<ImageDto>> Describe(string userId, IReadOnlyList<string> imageIds, CancellationToken ct)
    {
        var batch = db.CreateBatch();
        var reads = imageIds.Select(id => (id, task: batch.HashGetAllAsync(Keys.Image(userId, id)))).ToList();
        batch.Execute();
        var list = new List<ImageDto>();
        foreach (var (id, task) in reads)
        {
            var h = (await task).ToDictionary(e => e.Name.ToString(), e => e.Value.ToString());
            if (h.Count == 0) continue;
            string S(string k) => h.GetValueOrDefault(k, "");
            long L(string k) => long.TryParse(S(k), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : 0;
            DateTimeOffset T(string k) => DateTimeOffset.FromUnixTimeMilliseconds(L(k));
            list.Add(new ImageDto(id, S("sessionId"), userId, S("type"), S("path"), h.GetValueOrDefault("thumbPath"), [],
                S("mime"), (int)L("width"), (int)L("height"), L("size"), S("sha256"), S("status"), (int)L("refCount"),
                T("createdAt"), h.ContainsKey("updatedAt") ? T("updatedAt") : T("createdAt"), "", null));
        }
        return list;
    }
}

public static class MessagesServices
{
    public static IServiceCollection AddMessages(this IServiceCollection services)
    {
        services.TryAddSingleton<IImageDescriptions, StoredImageDescriptions>();
        return services;
    }
}
