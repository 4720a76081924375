using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;

[assembly: CollectionBehavior(DisableTestParallelization = true)] // browser, load and API tests share 2 cores; run them one at a time

namespace Cortex.Playground.Tests;

/// <summary>The real playground app, started in-process on 127.0.0.1 with a free port (no test host package needed).</summary>
public sealed class PlaygroundServer : IAsyncDisposable
{
    private readonly WebApplication app;

    private PlaygroundServer(WebApplication app, string url)
    {
        this.app = app;
        Url = url;
        Http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(30) };
    }

    public string Url { get; }
    public HttpClient Http { get; }
    public SessionStore Store => (SessionStore)app.Services.GetService(typeof(SessionStore))!;

    /// <summary>Starts the app; <paramref name="settings"/> are extra configuration, e.g. <c>Playground:MaxSessions=3</c>.</summary>
    public static async Task<PlaygroundServer> StartAsync(params string[] settings)
    {
        string[] args = ["--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default=Warning", .. settings.Select(s => "--" + s)];
        var app = Program.CreateApp(args);
        await app.StartAsync();
        return new PlaygroundServer(app, app.Urls.Single().TrimEnd('/'));
    }

    /// <summary>Creates a session through the API and returns its id.</summary>
    public async Task<string> CreateSessionAsync(object? settings = null)
    {
        var res = await Http.PostAsJsonAsync("/api/sessions", settings ?? new { });
        res.EnsureSuccessStatusCode();
        return (await res.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
