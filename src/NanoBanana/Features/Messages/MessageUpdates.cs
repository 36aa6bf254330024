using System.Text.Json.Nodes;
using NanoBanana.Features.Search;
using NanoBanana.Features.Sessions;
using NanoBanana.Infrastructure.Http;
using NanoBanana.Infrastructure.Redis;
using StackExchange.Redis;

namespace NanoBanana.Features.Messages;

/// <summary>What an edit, attach or detach asks: only the parts given change.</summary>
public abstract record MessageEdit
{
    /// <summary>The message's image list after the edit; null when the edit does not apply to it.</summary>
    public abstract IReadOnlyList<string>? Images(IReadOnlyList<string> current);

    public string? Text { get; init; }
    public JsonObject? Params { get; init; }
    public bool SetsParams => Params is not null;

    public sealed record Set(string[]? ImageIds) : MessageEdit
    {
        public override IReadOnlyList<string> Images(IReadOnlyList<string> current) => ImageIds ?? current;
    }

    /// <summary>Attaching an image the message already shows changes nothing.</summary>
    public sealed record Attach(string ImageId) : MessageEdit
    {
        public override IReadOnlyList<string> Images(IReadOnlyList<string> current) =>
            current.Contains(ImageId) ? current : [.. current, ImageId];
    }

    /// <summary>Detaching an image the message does not show answers 404.</summary>
    public sealed record Detach(string ImageId) : MessageEdit
    {
        public override IReadOnlyList<string>? Images(IReadOnlyList<string> current) =>
            current.Contains(ImageId) ? [.. current.Where(i => i != ImageId)] : null;
    }
}

/// <summary>
/// The one decision for every change to an existing message (edit, attach, detach): the message record, the text's
/// revision and search entries, the images' refCounts and the session's updatedAt, with message_updated and
/// session_updated. An edit that changes nothing answers the message as it is and changes nothing (an edit retried
/// with the same body finds it made).
/// </summary>
public static class MessageUpdates
{
    public static async Task<(MessageDataResponse, UserChange?)> Decide(
        IDatabase db, TimeProvider clock, string userId, string messageId, MessageEdit edit)
    {
        var read = db.CreateBatch();
        var basisRead = UserBasis.Read(read, userId);
        var messageRead = MessageRecord.Read(read, userId, messageId);
        read.Execute();
        var basis = await basisRead;
        var before = await messageRead ?? throw ApiProblem.NotFound("message");
        var old = before.Message;

        var text = edit.Text is null ? old.Text : StoredText.AsStored(edit.Text);
        var parameters = edit.SetsParams ? MessageRecord.AsStored(old with { Params = edit.Params }).Params : old.Params;
        var images = edit.Images(old.ImageIds) ?? [];
        var added = images.Where(i => !old.ImageIds.Contains(i)).ToList();
        var removed = old.ImageIds.Where(i => !images.Contains(i)).ToList();
        var textChanged = text != old.Text;

        var load = db.CreateBatch();
        var sessionRead = SessionRecord.Live(load, userId, old.SessionId);
        var atRead = SessionOrder.Newest(load, userId, clock.GetUtcNow());
        var statusReads = added.Select(i => load.HashGetAsync(Keys.Image(userId, i), "status")).ToList();
        var removedExist = removed.Select(i => load.KeyExistsAsync(Keys.Image(userId, i))).ToList();
        var indexRead = textChanged ? SearchIndex.Load(load, userId, before.Number, before.Terms) : null;
        load.Execute();
        var session = await sessionRead ?? throw ApiProblem.NotFound("message");
        if (edit.Images(old.ImageIds) is null) throw ApiProblem.NotFound("image");
        if (images.Count > MessageRecord.MaxImages)
            throw ApiProblem.Validation("imageIds", $"A message references at most {MessageRecord.MaxImages} images.");
        for (var i = 0; i < added.Count; i++)
            if ((string?)await statusReads[i] is not ("processing" or "ready"))
                throw ApiProblem.Validation("imageIds", $"Image '{added[i]}' was not found among your images, or it is not ready or processing.");

        var paramsChanged = parameters?.ToJsonString() != old.Params?.ToJsonString();
        if (!textChanged && !paramsChanged && images.SequenceEqual(old.ImageIds))
            return (new MessageDataResponse(old), null);

        var now = clock.GetUtcNow();
        var at = now > old.UpdatedAt ? now : old.UpdatedAt;
        var message = old with { Text = text, Params = parameters, ImageIds = [.. images], UpdatedAt = at };
        var terms = textChanged ? SearchIndex.Terms(text) : before.Terms;
        var stored = before with { Message = message, TextAt = textChanged ? at : before.TextAt, Terms = terms };
        var updated = session.Session with { UpdatedAt = await atRead };

        var change = basis.Change()
            .Write(tx => MessageRecord.Write(tx, userId, stored))
            .Write(tx => SessionRecord.Write(tx, session with { Session = updated }))
            .Raise(new MessageUpdated(userId, message))
            .Raise(new SessionUpdated(userId, updated));
        if (textChanged)
        {
            var index = await indexRead!;
            // the text being replaced becomes a revision: (when it was written, what it said)
            change.Write(tx => tx.ListRightPush(Keys.MessageRevisions(userId, messageId),
                [before.TextAt.ToUnixTimeMilliseconds(), old.Text]));
            change.Write(tx => SearchIndex.Replace(tx, userId, index, terms));
        }
        foreach (var image in added)
            change.Write(tx => tx.HashIncrement(Keys.Image(userId, image), "refCount", 1));
        for (var i = 0; i < removed.Count; i++)
            if (await removedExist[i])
            {
                var image = removed[i];
                change.Write(tx => tx.HashDecrement(Keys.Image(userId, image), "refCount", 1));
            }
        return (new MessageDataResponse(message), change);
    }
}
