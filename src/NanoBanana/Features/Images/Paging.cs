using System.Globalization;
using NanoBanana.Infrastructure.Http;

namespace NanoBanana.Features.Images;

/// <summary>SPEC pagination for image lists: limit 1..1000 (default 100), offset >= 0; bad values answer 400, never a clamp.</summary>
public static class ImagePaging
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    public static (int Limit, int Offset, string? Type) Parse(string? limit, string? offset, string? type)
    {
        var errors = new Dictionary<string, string[]>();
        var l = DefaultLimit;
        var o = 0;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out l) || l is < 1 or > MaxLimit))
            errors["limit"] = [$"limit must be a whole number from 1 to {MaxLimit}."];
        if (offset is not null && (!int.TryParse(offset, NumberStyles.None, CultureInfo.InvariantCulture, out o) || o < 0))
            errors["offset"] = ["offset must be a whole number, 0 or more."];
        var t = string.IsNullOrEmpty(type) ? null : type;
        if (t is not null && !ImageTypes.IsValid(t))
            errors["type"] = ["type must be uploaded, generated or edited."];
        if (errors.Count > 0) throw ApiProblem.Validation(errors);
        return (l, o, t);
    }
}

public sealed record ImagePage(IReadOnlyList<ImageDto> Images, Pagination Pagination);
