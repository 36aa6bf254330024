using System.Collections.Concurrent;
using FluentValidation;
using Wolverine;

namespace NanoBanana.Infrastructure.Http;

/// <summary>
/// Wolverine middleware: before any handler runs, the message's FluentValidation validator
/// (the nested <c>Validator</c> of each request record) checks it. A failure stops the chain
/// with a <see cref="ValidationException"/>, which answers 400 problem details with <c>errors</c>.
/// </summary>
public static class ValidationMiddleware
{
    public static async Task BeforeAsync(Envelope envelope, Validators validators, CancellationToken ct)
    {
        if (envelope.Message is not { } message || validators.For(message.GetType()) is not { } validator) return;
        var result = await validator.ValidateAsync(new ValidationContext<object>(message), ct);
        if (!result.IsValid) throw new ValidationException(result.Errors);
    }
}

/// <summary>The registered validators by message type. Validators are stateless singletons.</summary>
public sealed class Validators(IServiceProvider root)
{
    readonly ConcurrentDictionary<Type, IValidator?> _byType = new();

    public IValidator? For(Type messageType) =>
        _byType.GetOrAdd(messageType, t => root.GetService(typeof(IValidator<>).MakeGenericType(t)) as IValidator);
}
