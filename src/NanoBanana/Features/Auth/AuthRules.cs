using FluentValidation;

namespace NanoBanana.Features.Auth;

/// <summary>The account rules of SPEC section 2, shared by register, profile and password changes.</summary>
public static class AuthRules
{
    public const int MinPasswordLength = 8, MaxPasswordLength = 256;

    public static IRuleBuilderOptions<T, string> ValidEmail<T>(this IRuleBuilder<T, string> rule) =>
        rule.NotEmpty().WithMessage("Email is required.")
            .MaximumLength(254).WithMessage("Email must be at most 254 characters.")
            // No whitespace, control or invisible format characters (\p{C}): an address must not print like another one.
            .Matches(@"^[^@\s\p{C}]+@[^@\s\p{C}]+\.[^@\s\p{C}]+$").WithMessage("Email must be a valid email address.");

    public static IRuleBuilderOptions<T, string?> ValidUsername<T>(this IRuleBuilder<T, string?> rule) =>
        rule.NotEmpty().WithMessage("Username is required.")
            .Length(3, 32).WithMessage("Username must be 3 to 32 characters.")
            .Matches("^[A-Za-z0-9_.-]+$").WithMessage("Username may contain only letters, digits, '_', '.' and '-'.");

    public static IRuleBuilderOptions<T, string> ValidPassword<T>(this IRuleBuilder<T, string> rule, string name = "Password") =>
        rule.NotEmpty().WithMessage($"{name} is required.")
            .MinimumLength(MinPasswordLength).WithMessage($"{name} must be at least {MinPasswordLength} characters.")
            .MaximumLength(MaxPasswordLength).WithMessage($"{name} must be at most {MaxPasswordLength} characters.");
}
