using Microsoft.Playwright;

namespace Cortex.Playground.Tests;

/// <summary>
/// One playground server and one headless Debian Chromium for all browser tests. The browser is never downloaded:
/// Playwright drives /usr/bin/chromium (or $CHROMIUM_PATH), which the machine must have.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public static readonly string ChromiumPath = Environment.GetEnvironmentVariable("CHROMIUM_PATH") ?? "/usr/bin/chromium";

    private IPlaywright? playwright;

    public PlaygroundServer Server { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;

    /// <summary>Requests a page made to anywhere but the server (a CDN, say): there must be none.</summary>
    public System.Collections.Concurrent.ConcurrentBag<string> ForeignRequests { get; } = [];

    /// <summary>Where screenshots go: the test output folder's <c>screenshots/</c> (CI keeps it as an artefact).</summary>
    public static string ScreenshotDir { get; } = Path.Combine(AppContext.BaseDirectory, "screenshots");

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
            throw new InvalidOperationException(
                $"The browser tests need Debian's Chromium at {ChromiumPath}, and it is not there. Install it with " +
                "`apt-get install -y chromium` (or set CHROMIUM_PATH); these tests never download a browser.");
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
