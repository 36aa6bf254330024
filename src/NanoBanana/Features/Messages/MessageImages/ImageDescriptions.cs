namespace NanoBanana.Features.Messages.MessageImages;

/// <summary>
/// How the messages feature shows a message's images (<c>GET /api/messages/:id/images</c>): the images
/// feature knows URLs and thumbnails and implements it (Features/Images/MessageImageDescriptions.cs).
/// </summary>
public interface IImageDescriptions
{
    Task<IReadOnlyList<ImageDto>> Describe(string userId, IReadOnlyList<string> imageIds, CancellationToken ct);
}
