using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace NanoBanana.Tests.WebPage;

/// <summary>One device of a person: a browser context of its own (its own storage, its own sign-in) and its page.</summary>
public sealed class Device : IAsyncDisposable
{
    public const string Password = "correct horse battery";
    public static readonly ViewportSize Desktop = new() { Width = 1280, Height = 800 };
    public static readonly ViewportSize Phone = new() { Width = 390, Height = 844 };

    public IBrowserContext Context { get; }
    public IPage Page { get; }
    /// <summary>What the page wrote to the console as errors, and the exceptions it did not catch.</summary>
    public List<string> Errors { get; } = [];

    Device(IBrowserContext context, IPage page)
    {
        Context = context;
        Page = page;
        page.Console += (_, message) => { if (message.Type == "error") Errors.Add($"{message.Text} ({message.Location})"); };
        page.PageError += (_, error) => Errors.Add(error);
    }

    public static async Task<Device> Open(BrowserFixture browser, ViewportSize? viewport = null)
    {
        var context = await browser.Browser.NewContextAsync(new() { BaseURL = browser.Address.ToString(), ViewportSize = viewport ?? Desktop });
        var device = new Device(context, await context.NewPageAsync());
        await device.Page.GotoAsync("/");
        await Expect(device.Page.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
        return device;
    }

    public async Task Register(string email, string username)
    {
        await Page.GetByRole(AriaRole.Button, new() { Name = "New here? Create an account" }).ClickAsync();
        await Page.GetByLabel("Email").FillAsync(email);
        await Page.GetByLabel("Username").FillAsync(username);
        await Page.GetByLabel("Password").FillAsync(Password);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Create account" }).ClickAsync();
        await Expect(Page.Locator("#whoami")).ToHaveTextAsync(username);
    }

    public async Task SignIn(string email)
    {
        await Page.GetByLabel("Email").FillAsync(email);
        await Page.GetByLabel("Password").FillAsync(Password);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
        await Expect(Page.Locator("#app")).ToBeVisibleAsync();
    }

    public ILocator Connection => Page.Locator("#connection");
    public ILocator Messages => Page.Locator("#messages");
    public ILocator ChatTitle => Page.Locator("#chat-title");

    public async Task Send(string text)
    {
        await Page.GetByLabel("Message or prompt").FillAsync(text);
        await Page.GetByLabel("Message or prompt").PressAsync("Enter");
        await Expect(Messages).ToContainTextAsync(text);
    }

    public void ShouldHaveNoErrors() => Assert.True(Errors.Count == 0, "console errors:\n" + string.Join("\n", Errors));

    public async ValueTask DisposeAsync() => await Context.DisposeAsync();
}
