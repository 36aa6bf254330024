using System.Text.RegularExpressions;
using FluentValidation;

namespace NanoBanana.Features;

/// <summary>
/// The one id rule of the service: every id it hands out (users, sessions, messages, images) is a UUIDv7
/// as 32 lowercase hex digits: unguessable (74 random bits) and time-sortable (SPEC section 1).
/// </summary>
public static partial class Ids
{
    [GeneratedRegex("^[0-9a-f]{32}$")]
    private static partial Regex Pattern();

    public static string New() => Guid.CreateVersion7().ToString("N");

    public static bool IsValid(string? id) => id is not null && Pattern().IsMatch(id);

    public static IRuleBuilderOptions<T, string> ValidId<T>(this IRuleBuilder<T, string> rule) =>
        rule.Must(IsValid).WithMessage("'{PropertyName}' is not a valid id.");
}
