using System.Text.Json;
using System.Text.Json.Nodes;
using FluentValidation;
using NanoBanana.Features.Sessions;

namespace NanoBanana.Features.Messages;

/// <summary>POST answer: <c>{message, messageData}</c>: <c>message</c> a sentence for people, <c>messageData</c> the message.</summary>
public sealed record MessagePostedResponse(string Message, MessageDto MessageData);

/// <summary><c>{messageData}</c></summary>
public sealed record MessageDataResponse(MessageDto MessageData);

/// <summary><c>{messages, pagination}</c></summary>
public sealed record MessagesPage(IReadOnlyList<MessageDto> Messages, Pagination Pagination);

public sealed record Revision(string Text, DateTimeOffset EditedAt);

/// <summary><c>{revisions}</c>: every version of the text, oldest first, the current one last.</summary>
public sealed record RevisionsResponse(IReadOnlyList<Revision> Revisions);

/// <summary><c>{images}</c></summary>
public sealed record MessageImagesResponse(IReadOnlyList<ImageDto> Images);

public static class MessageRules
{
    public const int MaxTextLength = 32_000;
    public const int MaxParamsBytes = 16 * 1024;
    public static readonly string[] Roles = ["user", "assistant", "system"];

    public static IRuleBuilderOptions<T, string?> ValidText<T>(this IRuleBuilder<T, string?> rule) =>
        rule.MaximumLength(MaxTextLength).WithMessage($"'text' must be at most {MaxTextLength} characters.");

    public static IRuleBuilderOptions<T, JsonNode?> ValidParams<T>(this IRuleBuilder<T, JsonNode?> rule) =>
        rule.Must(p => p is null || p is JsonObject).WithMessage("'params' must be a JSON object.")
            .Must(p => p is null || System.Text.Encoding.UTF8.GetByteCount(ParamsJson(p)) <= MaxParamsBytes)
            .WithMessage($"'params' must be at most {MaxParamsBytes / 1024} KiB as JSON.");

    public static IRuleBuilderOptions<T, string[]?> ValidImageIds<T>(this IRuleBuilder<T, string[]?> rule) =>
        rule.Must(ids => ids is null || ids.All(Ids.IsValid)).WithMessage("'imageIds' holds an id that is not a valid image id.")
            .Must(ids => ids is null || ids.Distinct().Count() == ids.Length).WithMessage("'imageIds' names an image twice.")
            .Must(ids => ids is null || ids.Length <= MessageRecord.MaxImages)
            .WithMessage($"A message references at most {MessageRecord.MaxImages} images.");

    /// <summary>The stored form of params: UTF-8 JSON as given ("" for none).</summary>
    public static string ParamsJson(JsonNode? p) => p is null ? "" : p.ToJsonString();
}
