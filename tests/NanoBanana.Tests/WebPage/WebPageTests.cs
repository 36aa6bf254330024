using System.Text.RegularExpressions;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;
using NanoBanana.Tests.Features.Images;
using static Microsoft.Playwright.Assertions;

namespace NanoBanana.Tests.WebPage;

/// <summary>
/// The page at / in a real Chromium against the real app, Redis and store: two browser contexts are two
/// devices of one person, and each sees what the other does without a reload.
/// </summary>
[Trait("Category", "Browser")]
public sealed class WebPageTests(AppFixture app, BrowserFixture browser) : IntegrationContext(app), IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task Two_devices_see_each_others_messages_and_pictures_live()
    {
        var (email, username) = NewIdentity("page");
        await using var laptop = await Device.Open(browser);
        await using var phone = await Device.Open(browser, Device.Phone);
        await NoSeriousAccessibilityViolations(laptop.Page, "the sign-in form");

        await laptop.Register(email, username);
        await laptop.Page.GetByRole(AriaRole.Button, new() { Name = "New chat" }).ClickAsync();
        await Expect(laptop.ChatTitle).ToHaveTextAsync("New Chat");
        await Expect(laptop.Connection).ToHaveTextAsync("Live");

        await phone.SignIn(email);
        await Expect(phone.ChatTitle).ToHaveTextAsync("New Chat");
        await Expect(phone.Connection).ToHaveTextAsync("Live");

        await laptop.Send("A banana on a blue plate");
        await Expect(phone.Messages).ToContainTextAsync("A banana on a blue plate");
        await Expect(phone.ChatTitle).ToHaveTextAsync("A banana on a blue plate"); // the auto title, live

        await laptop.Page.Locator("#file-input").SetInputFilesAsync(new FilePayload
        {
            Name = "plate.jpg", MimeType = "image/jpeg", Buffer = TestImages.JpegWithOrientation6AndGps(600, 400),
        });
        await Expect(laptop.Page.Locator("#selected .thumb")).ToHaveCountAsync(1);
        await phone.Page.GetByText("Pictures in this chat").ClickAsync();
        await Expect(phone.Page.Locator("#pictures li.picture[data-status=ready] img")).ToBeVisibleAsync();

        await laptop.Send("Here it is");
        var shared = phone.Messages.Locator("li.message", new() { HasText = "Here it is" }).Locator("button.thumb[data-status=ready]");
        await Expect(shared).ToBeVisibleAsync();
        await Expect(shared.Locator("img")).ToHaveJSPropertyAsync("naturalHeight", 256); // the 256 px thumbnail, turned upright
        await shared.ClickAsync();
        await Expect(phone.Page.Locator("#viewer-img")).ToHaveJSPropertyAsync("naturalHeight", 600); // the original
        await phone.Page.Keyboard.PressAsync("Escape");
        await Expect(phone.Page.Locator("#viewer")).Not.ToBeVisibleAsync();

        await NoSeriousAccessibilityViolations(laptop.Page, "the chat (desktop)");
        await NoSeriousAccessibilityViolations(phone.Page, "the chat (phone)");
        await laptop.Page.ScreenshotAsync(new() { Path = Screenshot("desktop.png") });
        await phone.Page.ScreenshotAsync(new() { Path = Screenshot("phone.png") });
        laptop.ShouldHaveNoErrors();
        phone.ShouldHaveNoErrors();
    }

    [Fact]
    public async Task A_generation_shows_its_progress_and_result_on_both_devices()
    {
        var (email, username) = NewIdentity("page");
        await using var laptop = await Device.Open(browser);
        await using var phone = await Device.Open(browser, Device.Phone);
        await laptop.Register(email, username);
        await laptop.Page.GetByRole(AriaRole.Button, new() { Name = "New chat" }).ClickAsync();
        await phone.SignIn(email);
        await Expect(phone.Connection).ToHaveTextAsync("Live");
        await Expect(laptop.Connection).ToHaveTextAsync("Live");

        await laptop.Page.Locator("#file-input").SetInputFilesAsync(new FilePayload
        {
            Name = "plate.png", MimeType = "image/png", Buffer = TestImages.PngWithAlpha(300, 200),
        });
        await Expect(laptop.Page.Locator("#selected .thumb[data-status=ready]")).ToHaveCountAsync(1); // the chosen input
        await Expect(laptop.Page.GetByLabel("Provider")).ToHaveValueAsync("local");
        await laptop.Page.GetByLabel("Message or prompt").FillAsync("Make the plate golden");
        await laptop.Page.GetByRole(AriaRole.Button, new() { Name = "Generate" }).ClickAsync();

        foreach (var device in new[] { laptop, phone })
        {
            var card = device.Page.Locator("#generations li.generation", new() { HasText = "Make the plate golden" });
            await Expect(card).ToContainTextAsync("edit");
            await Expect(card).ToHaveAttributeAsync("data-status", "succeeded");
            await Expect(device.Messages.Locator("li.message.user", new() { HasText = "Make the plate golden" })).ToBeVisibleAsync();
            var result = device.Messages.Locator("li.message.assistant button.thumb[data-status=ready] img");
            await Expect(result).ToHaveJSPropertyAsync("complete", true);
            Assert.True(await result.EvaluateAsync<int>("img => img.naturalWidth") > 0);
        }
        await NoSeriousAccessibilityViolations(laptop.Page, "the chat with a generation");
        laptop.ShouldHaveNoErrors();
        phone.ShouldHaveNoErrors();
    }

    [Fact]
    public async Task Edits_renames_and_deletes_reach_the_other_device()
    {
        var (email, username) = NewIdentity("page");
        await using var laptop = await Device.Open(browser);
        await using var phone = await Device.Open(browser, Device.Phone);
        await laptop.Register(email, username);
        await laptop.Page.GetByRole(AriaRole.Button, new() { Name = "New chat" }).ClickAsync();
        await laptop.Send("Buy bananas");
        await phone.SignIn(email);
        await Expect(phone.Messages).ToContainTextAsync("Buy bananas");
        await Expect(phone.Connection).ToHaveTextAsync("Live");

        var first = laptop.Messages.Locator("li.message", new() { HasText = "Buy bananas" });
        await first.GetByRole(AriaRole.Button, new() { Name = "Edit" }).ClickAsync();
        await laptop.Page.GetByLabel("Edit message").FillAsync("Buy ripe bananas");
        await phone.Send("And milk"); // arrives on the laptop while it edits: the draft stays
        await Expect(laptop.Messages).ToContainTextAsync("And milk");
        await Expect(laptop.Page.GetByLabel("Edit message")).ToHaveValueAsync("Buy ripe bananas");
        await laptop.Page.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
        var edited = phone.Messages.Locator("li.message", new() { HasText = "Buy ripe bananas" });
        await edited.GetByRole(AriaRole.Button, new() { Name = "edited" }).ClickAsync();
        await Expect(phone.Page.Locator("#history-list li .text")).ToHaveTextAsync(["Buy bananas", "Buy ripe bananas"]);
        await phone.Page.Keyboard.PressAsync("Escape");

        laptop.Page.Dialog += (_, dialog) => dialog.AcceptAsync(dialog.Type == "prompt" ? "Groceries" : null);
        phone.Page.Dialog += (_, dialog) => dialog.AcceptAsync();
        await laptop.Page.GetByRole(AriaRole.Button, new() { Name = "Rename Buy bananas" }).ClickAsync();
        await Expect(phone.ChatTitle).ToHaveTextAsync("Groceries");

        await phone.Messages.Locator("li.message", new() { HasText = "And milk" }).GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();
        await Expect(laptop.Messages.Locator("li.message .text")).ToHaveTextAsync(["Buy ripe bananas"]);

        await laptop.Page.GetByRole(AriaRole.Button, new() { Name = "Delete Groceries" }).ClickAsync();
        await Expect(phone.Page.GetByRole(AriaRole.Heading, new() { Name = "Start a chat" })).ToBeVisibleAsync();
        laptop.ShouldHaveNoErrors();
        phone.ShouldHaveNoErrors();
    }

    [Fact]
    public async Task A_tab_that_was_offline_catches_up_when_it_reconnects()
    {
        var (email, username) = NewIdentity("page");
        await using var laptop = await Device.Open(browser);
        await using var tablet = await Device.Open(browser);
        await laptop.Register(email, username);
        await laptop.Page.GetByRole(AriaRole.Button, new() { Name = "New chat" }).ClickAsync();
        await laptop.Send("Before the tunnel");
        await tablet.SignIn(email);
        await Expect(tablet.Messages).ToContainTextAsync("Before the tunnel");
        await Expect(tablet.Connection).ToHaveTextAsync("Live");

        await tablet.Context.SetOfflineAsync(true);
        await Expect(tablet.Connection).ToHaveTextAsync("Offline");
        await laptop.Send("While you were away");
        await laptop.Send("And one more");

        await tablet.Context.SetOfflineAsync(false);
        await Expect(tablet.Connection).ToHaveTextAsync("Live");
        await Expect(tablet.Messages.Locator("li.message .text")).ToHaveTextAsync(
            ["Before the tunnel", "While you were away", "And one more"]);
        laptop.ShouldHaveNoErrors();
        tablet.ShouldHaveNoErrors();
    }

    [Fact]
    public async Task Search_shows_the_matches_highlighted_and_problem_details_in_words()
    {
        var (email, username) = NewIdentity("page");
        await using var laptop = await Device.Open(browser);

        await laptop.Page.GetByLabel("Email").FillAsync(email);
        await laptop.Page.GetByLabel("Password").FillAsync("wrong password");
        await laptop.Page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
        await Expect(laptop.Page.Locator("#signin-error")).ToHaveTextAsync(new Regex("email or password", RegexOptions.IgnoreCase));
        laptop.Errors.Clear(); // the browser itself logs the 401 of that refused sign-in

        await laptop.Register(email, username);
        await laptop.Page.GetByRole(AriaRole.Button, new() { Name = "New chat" }).ClickAsync();
        await laptop.Send("Bananas ripen faster in a paper bag");
        await laptop.Page.GetByLabel("Search messages").FillAsync("ripen");
        await laptop.Page.GetByLabel("Search messages").PressAsync("Enter");
        await Expect(laptop.Page.Locator("#search-list mark")).ToHaveTextAsync("ripen");
        await NoSeriousAccessibilityViolations(laptop.Page, "search results");
        laptop.ShouldHaveNoErrors();
    }

    static async Task NoSeriousAccessibilityViolations(IPage page, string view)
    {
        var result = await page.RunAxe();
        var serious = result.Violations.Where(v => v.Impact is "serious" or "critical")
            .Select(v => $"{v.Id} ({v.Impact}): {v.Help} at {string.Join(", ", v.Nodes.Select(n => n.Target.ToString()))}").ToList();
        Assert.True(serious.Count == 0, $"{view}: " + string.Join("\n", serious));
    }

    /// <summary>docs/screenshots/NAME in the repository, linked from the README.</summary>
    static string Screenshot(string name)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "NanoBanana.sln"))) dir = dir.Parent;
        return Path.Combine(dir?.FullName ?? Path.GetTempPath(), "docs", "screenshots", name);
    }
}
