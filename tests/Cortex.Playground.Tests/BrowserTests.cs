using System.Globalization;
using System.Text.Json;
using Cortex.Models;
using Microsoft.Playwright;

namespace Cortex.Playground.Tests;

/// <summary>The real page in headless Chromium against the real server: training, the network view, the URL and the download.</summary>
[Collection("browser")]
public sealed class BrowserTests(BrowserFixture fx) : IAsyncLifetime
{
    private IPage? page;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (page != null) await page.Context.CloseAsync();
        Assert.Empty(fx.ForeignRequests);
    }

    private static async Task<float> TestLossAsync(IPage p) =>
        float.TryParse(await p.Locator("#loss-test").TextContentAsync(), NumberStyles.Float, CultureInfo.InvariantCulture, out float v) ? v : float.NaN;

    private static async Task<int> EpochAsync(IPage p) =>
        int.Parse((await p.Locator("#epoch").TextContentAsync())!.Replace(",", ""), CultureInfo.InvariantCulture);

    /// <summary>Polls the displayed test loss until it is below <paramref name="target"/>; returns the seconds it took.</summary>
    private static async Task<double> WaitForTestLossBelowAsync(IPage p, float target, TimeSpan limit)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        float last = float.NaN;
        while (clock.Elapsed < limit)
        {
            last = await TestLossAsync(p);
            if (last < target) return clock.Elapsed.TotalSeconds;
            await Task.Delay(100);
        }
        Assert.Fail($"The displayed test loss was still {last} after {limit.TotalSeconds} s (epoch {await EpochAsync(p)}); expected < {target}.");
        return 0;
    }

    private static Task WaitForVersionAfterAsync(IPage p, long version) =>
        p.WaitForFunctionAsync($"() => window.playground.state.version > {version}", null, new PageWaitForFunctionOptions { Timeout = 10000 });

    private static async Task<long> VersionAsync(IPage p) => await p.EvaluateAsync<long>("() => window.playground.state.version");

    [BrowserFact]
    public async Task Circle_DefaultNetwork_PlayAdvancesEpochsAndTestLossFallsBelowPoint1()
    {
        page = await fx.NewPageAsync();
        Assert.Equal("circle", await page.EvaluateAsync<string>("() => window.playground.settings.dataset"));
        Assert.Equal(0, await EpochAsync(page));
        Assert.True(await TestLossAsync(page) > 0.3f, "An untrained network should not already fit the circle.");
        await BrowserFixture.ScreenshotAsync(page, "circle-start");

        await page.ClickAsync("#play-pause");
        await page.WaitForFunctionAsync("() => window.playground.state.epoch > 0", null, new PageWaitForFunctionOptions { Timeout = 10000 });
        double seconds = await WaitForTestLossBelowAsync(page, 0.1f, TimeSpan.FromSeconds(30));
        int epoch = await EpochAsync(page);
        Assert.True(epoch > 0);
        await page.WaitForFunctionAsync($"() => window.playground.state.epoch > {epoch}"); // still advancing
        Assert.Contains("epochs: ", await page.Locator("#code").TextContentAsync());
        await BrowserFixture.ScreenshotAsync(page, "circle-trained");
        await page.ClickAsync("#play-pause");
        Console.WriteLine($"circle: test loss < 0.1 after {seconds:F1} s");
    }

    // Spiral with all (seven) features and three tanh layers of 8: plain SGD at learning rate 0.01, batch 10, noise 0,
    // half the points for training. It passes 0.2 within about a thousand epochs (a second or two here).
    private static readonly string SpiralHash = "#problem=classification&dataset=spiral&noise=0&trainRatio=50&batchSize=10&seed=1" +
        $"&features={string.Join(",", InputFeatures.Ids)}&layers=8,8,8&activation=tanh&learningRate=0.01" +
        "&regularization=none&regularizationRate=0&optimizer=sgd&showTestData=true&discretize=false";

    [BrowserFact]
    public async Task Spiral_AllFeatures_ThreeTanhLayersOf8_TestLossFallsBelowPoint2()
    {
        page = await fx.NewPageAsync(SpiralHash);
        Assert.Equal(24, await page.Locator(".node.neuron").CountAsync());
        Assert.Equal(InputFeatures.All.Count, await page.Locator(".node.feature.active").CountAsync());
        await page.ClickAsync("#play-pause");
        double seconds = await WaitForTestLossBelowAsync(page, 0.2f, TimeSpan.FromSeconds(60));
        await page.ClickAsync("#play-pause");
        await BrowserFixture.ScreenshotAsync(page, "spiral-trained");
        Console.WriteLine($"spiral: test loss < 0.2 after {seconds:F1} s");
    }

    [BrowserFact]
    public async Task ToggleFeature_AddLayer_ChangeActivation_ChangeTheDrawnNetwork()
    {
        page = await fx.NewPageAsync();
        var links = page.Locator("#links path.link");
        Assert.Equal(2 * 4 + 4 * 2 + 2 * 1, await links.CountAsync());
        // The page offers the server's features, in its order, with its labels.
        Assert.Equal(InputFeatures.Ids, await page.EvaluateAsync<string[]>("() => [...document.querySelectorAll('.node.feature')].map(n => n.dataset.feature)"));
        Assert.Equal(InputFeatures.All.Select(f => f.Label), await page.EvaluateAsync<string[]>("() => [...document.querySelectorAll('.node-label')].map(l => l.innerHTML)"));

        // A feature switched on gets links to the first hidden layer.
        long v = await VersionAsync(page);
        await page.ClickAsync(".node.feature[data-feature=x1x2]");
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#links path.link').length === 3*4 + 4*2 + 2");
        Assert.Equal(3, await page.Locator(".node.feature.active").CountAsync());
        Assert.Contains("x1x2", await page.EvaluateAsync<string[]>("() => window.playground.settings.features"));
        await WaitForVersionAfterAsync(page, v);

        // A new hidden layer (of 2 neurons) between the last one and the output.
        await page.ClickAsync("#add-layer");
        await page.WaitForFunctionAsync("() => document.querySelectorAll('.node.neuron').length === 8");
        Assert.Equal("3", await page.Locator("#layer-count").TextContentAsync());
        Assert.Equal(3 * 4 + 4 * 2 + 2 * 2 + 2 * 1, await links.CountAsync());
        Assert.Contains("new Dense(2, activation: \"tanh\"", await page.Locator("#code").TextContentAsync());

        // Another activation: same shape, different neurons (their heatmaps are redrawn from the new network).
        await page.WaitForFunctionAsync("() => window.playground.state.neurons.length === 3");
        var before = await page.Locator("#network").ScreenshotAsync();
        v = await VersionAsync(page);
        await page.SelectOptionAsync("#activation", "relu");
        await WaitForVersionAfterAsync(page, v);
        await page.WaitForFunctionAsync("() => window.playground.settings.activation === 'relu'");
        await page.EvaluateAsync("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))");
        var after = await page.Locator("#network").ScreenshotAsync();
        Assert.False(before.AsSpan().SequenceEqual(after), "The network looks the same after changing the activation.");
        Assert.Contains("activation: \"relu\"", await page.Locator("#code").TextContentAsync());

        // Hovering a neuron shows it large; hovering a link shows its weight.
        await page.HoverAsync(".node.neuron[data-layer='0'][data-index='1']");
        Assert.Equal("Neuron 2 of hidden layer 1", await page.Locator("#heatmap-caption").TextContentAsync());
        var link = page.Locator("#links path.link-hit").First;
        var box = (await page.Locator("#links path.link").First.BoundingBoxAsync())!;
        await page.Mouse.MoveAsync(box.X + box.Width / 2, box.Y + box.Height / 2);
        await page.Mouse.MoveAsync(box.X + box.Width / 2 + 1, box.Y + box.Height / 2);
        await page.WaitForSelectorAsync("#tooltip:not([hidden])", new PageWaitForSelectorOptions { Timeout = 5000 });
        Assert.Matches(@"^Weight is -?\d+\.\d{3}$", await page.Locator("#tooltip").TextContentAsync());
        await BrowserFixture.ScreenshotAsync(page, "network-edited");
    }

    [BrowserFact]
    public async Task Url_ReproducesTheSetupAfterAReload()
    {
        page = await fx.NewPageAsync();
        await page.ClickAsync(".dataset[data-dataset=xor]");
        await page.WaitForFunctionAsync("() => window.playground.settings.dataset === 'xor'");
        await page.ClickAsync(".node.feature[data-feature=sinx1]");
        await page.WaitForFunctionAsync("() => window.playground.settings.features.includes('sinx1')");
        await page.ClickAsync("#add-layer");
        await page.WaitForFunctionAsync("() => window.playground.settings.layers.length === 3");
        await page.ClickAsync(".layer-controls[data-layer='0'] .add-neuron");
        await page.WaitForFunctionAsync("() => window.playground.settings.layers[0] === 5");
        await page.SelectOptionAsync("#activation", "sigmoid");
        await page.SelectOptionAsync("#learning-rate", "0.1");
        await page.SelectOptionAsync("#regularization", "l2");
        await page.SelectOptionAsync("#regularization-rate", "0.003");
        await page.SelectOptionAsync("#optimizer", "adam");
        await page.Locator("#noise").FillAsync("20");
        await page.WaitForFunctionAsync("() => window.playground.settings.noise === 20 && window.playground.settings.optimizer === 'adam'" +
            " && window.playground.settings.regularizationRate === 0.003 && window.playground.settings.learningRate === 0.1");
        await page.CheckAsync("#show-test");
        await page.WaitForFunctionAsync("() => window.playground.points.points.length > 0");
        string settingsBefore = await page.EvaluateAsync<string>("() => JSON.stringify(window.playground.settings)");
        string pointsBefore = await page.EvaluateAsync<string>("() => JSON.stringify(window.playground.points)");
        string sessionBefore = await page.EvaluateAsync<string>("() => window.playground.sessionId");
        string url = page.Url;
        Assert.Contains("dataset=xor", url);

        await page.ReloadAsync();
        await page.WaitForFunctionAsync($"() => window.playground && window.playground.sessionId && window.playground.sessionId !== '{sessionBefore}' && window.playground.points");
        await BrowserFixture.WaitForStateAsync(page);
        Assert.Equal(url, page.Url);
        Assert.Equal(settingsBefore, await page.EvaluateAsync<string>("() => JSON.stringify(window.playground.settings)"));
        Assert.Equal(pointsBefore, await page.EvaluateAsync<string>("() => JSON.stringify(window.playground.points)")); // same seed, same data
        Assert.Equal("sigmoid", await page.Locator("#activation").InputValueAsync());
        Assert.Equal("adam", await page.Locator("#optimizer").InputValueAsync());
        Assert.Equal("20", await page.Locator("#noise").InputValueAsync());
        Assert.True(await page.Locator("#show-test").IsCheckedAsync());
        Assert.Equal(5 + 2 + 2, await page.Locator(".node.neuron").CountAsync());
        Assert.Equal(3, await page.Locator(".node.feature.active").CountAsync());
        Assert.True(await page.Locator(".dataset[data-dataset=xor]").EvaluateAsync<bool>("b => b.classList.contains('selected')"));
        await BrowserFixture.ScreenshotAsync(page, "url-reloaded");
    }

    [BrowserFact]
    public async Task DownloadedModel_LoadsWithModelLoad_AndClassifiesAsThePageShowed()
    {
        page = await fx.NewPageAsync("#dataset=gauss&noise=25&features=x1,x2,x1x2&layers=3&showTestData=true");
        await page.ClickAsync("#play-pause");
        await page.WaitForFunctionAsync("() => window.playground.state.epoch >= 50", null, new PageWaitForFunctionOptions { Timeout = 20000 });
        await page.ClickAsync("#play-pause");
        await page.WaitForFunctionAsync("() => window.playground.state.playing === false", null, new PageWaitForFunctionOptions { Timeout = 10000 });
        await BrowserFixture.ScreenshotAsync(page, "download-gauss");

        var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("#download"));
        Assert.EndsWith(".cortex", download.SuggestedFilename);
        string path = Path.Combine(Path.GetTempPath(), $"playground-test-{Guid.NewGuid():N}.cortex");
        try
        {
            await download.SaveAsAsync(path);
            var model = Model.Load(path);

            using var shown = JsonDocument.Parse(await page.EvaluateAsync<string>("() => JSON.stringify({ state: window.playground.state, points: window.playground.points })"));
            var state = shown.RootElement.GetProperty("state");
            var pts = shown.RootElement.GetProperty("points");
            int trainCount = pts.GetProperty("trainCount").GetInt32();
            float[] flat = [.. pts.GetProperty("points").EnumerateArray().Select(e => e.GetSingle())];
            int n = flat.Length / 3, tests = n - trainCount;

            // The test points: the model's accuracy is the one the page displays.
            var x = new float[tests * 3];
            int correct = 0;
            for (int k = 0; k < tests; k++)
            {
                float x1 = flat[3 * (trainCount + k)], x2 = flat[3 * (trainCount + k) + 1];
                x[3 * k] = x1; x[3 * k + 1] = x2; x[3 * k + 2] = x1 * x2;
            }
            var p = model.Predict(Tensor.FromArray(x, tests, 3), batchSize: 1024).ToArray();
            for (int k = 0; k < tests; k++)
                if ((p[k] >= 0.5f) == (flat[3 * (trainCount + k) + 2] > 0)) correct++;
            string displayed = (await page.Locator("#accuracy-test").TextContentAsync())!;
            Assert.Equal($"accuracy {(100.0 * correct / tests).ToString("F1", CultureInfo.InvariantCulture)}%", displayed);
            Assert.Equal((float)correct / tests, state.GetProperty("testAccuracy").GetSingle(), 1e-4f);

            // The output heatmap the page drew: each cell is the model's probability, quantised to a byte.
            int size = state.GetProperty("outputGrid").GetInt32();
            byte[] bytes = Convert.FromBase64String(state.GetProperty("output").GetString()!);
            var grid = new float[size * size * 3];
            for (int r = 0; r < size; r++)
                for (int c = 0; c < size; c++)
                {
                    float x1 = -6 + (c + 0.5f) * 12f / size, x2 = 6 - (r + 0.5f) * 12f / size;
                    int i = r * size + c;
                    grid[3 * i] = x1; grid[3 * i + 1] = x2; grid[3 * i + 2] = x1 * x2;
                }
            var g = model.Predict(Tensor.FromArray(grid, size * size, 3), batchSize: 4096).ToArray();
            for (int i = 0; i < g.Length; i++)
                Assert.True(Math.Abs(g[i] * 255 - bytes[i]) <= 1.01, $"Heatmap cell {i}: page shows {bytes[i]}/255, the loaded model gives {g[i]}.");
        }
        finally { File.Delete(path); }
    }
}
