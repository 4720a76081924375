using Microsoft.Playwright;

namespace Cortex.Playground.Tests;

/// <summary>
/// One playground server and one headless Debian Chromium for all browser tests. The browser is never downloaded:
/// Playwright drives /usr/bin/chromium (or $CHROMIUM_PATH). Where it is missing the tests are skipped, each with the
/// line that says how to install it (<see cref="BrowserFactAttribute"/>), and this fixture starts nothing.
/// </summary>
public sealed class BrowserFixture(Xunit.Abstractions.IMessageSink diagnostics) : IAsyncLifetime
{
    public static readonly string ChromiumPath = Environment.GetEnvironmentVariable("CHROMIUM_PATH") ?? "/usr/bin/chromium";

    /// <summary>Why the browser tests cannot run here, or null when Chromium is installed.</summary>
    public static string? MissingBrowser { get; } = File.Exists(ChromiumPath) ? null
        : $"Chromium is not installed at {ChromiumPath}: sudo apt-get install chromium (or set CHROMIUM_PATH); .ci/run installs it.";

    private IPlaywright? playwright;

    public PlaygroundServer Server { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;

    /// <summary>Requests a page made to anywhere but the server (a CDN, say): there must be none.</summary>
    public System.Collections.Concurrent.ConcurrentBag<string> ForeignRequests { get; } = [];

    /// <summary>Where screenshots go: the test output folder's <c>screenshots/</c> (CI keeps it as an artefact).</summary>
    public static string ScreenshotDir { get; } = Path.Combine(AppContext.BaseDirectory, "screenshots");

    public async Task InitializeAsync()
    {
        if (MissingBrowser != null)
        {
            // Every test is skipped with the reason, which `dotnet test` shows only when detailed; say it once here.
            diagnostics.OnMessage(new Xunit.Sdk.DiagnosticMessage("Browser tests skipped: " + MissingBrowser));
            return;
        }
        Directory.CreateDirectory(ScreenshotDir);
        Server = await PlaygroundServer.StartAsync();
        playwright = await Playwright.CreateAsync();
        Browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            // Without the background-networking flags Chromium keeps trying to reach Google on a closed network.
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            // (Playwright gives each launch a fresh, empty --user-data-dir of its own.)
        });
    }

    /// <summary>A fresh tab (its own playground session) that fails on any request to a host other than the server.</summary>
    public async Task<IPage> NewPageAsync(string hash = "")
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = 1440, Height = 1000 },
            AcceptDownloads = true,
        });
        var page = await context.NewPageAsync();
        await page.RouteAsync("**/*", async route =>
        {
            if (route.Request.Url.StartsWith(Server.Url, StringComparison.Ordinal)) await route.ContinueAsync();
            else { ForeignRequests.Add(route.Request.Url); await route.AbortAsync(); }
        });
        await page.GotoAsync(Server.Url + "/" + hash);
        await WaitForStateAsync(page);
        return page;
    }

    /// <summary>Waits until the page has drawn a state from the server.</summary>
    public static Task WaitForStateAsync(IPage page, int timeoutMs = 15000) =>
        page.WaitForFunctionAsync("() => window.playground && window.playground.state && window.playground.points",
            null, new PageWaitForFunctionOptions { Timeout = timeoutMs });

    public static Task ScreenshotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotDir, name + ".png"), FullPage = true });

    public async Task DisposeAsync()
    {
        if (Browser != null) await Browser.CloseAsync();
        playwright?.Dispose();
        if (Server != null) await Server.DisposeAsync();
    }
}

[CollectionDefinition("browser")]
public sealed class BrowserCollection : ICollectionFixture<BrowserFixture>;

/// <summary>A fact that drives Chromium: skipped, with one line saying how to install it, where it is missing (xunit 2
/// decides skips when tests are discovered, so the check is made here rather than in the fixture).</summary>
public sealed class BrowserFactAttribute : FactAttribute
{
    public BrowserFactAttribute()
    {
        if (BrowserFixture.MissingBrowser is { } reason) Skip = reason;
    }
}
