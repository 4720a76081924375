using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.FileProviders;

namespace Cortex.Playground;

/// <summary>
/// The Cortex Playground server: <c>dotnet run --project src/Cortex.Playground</c> serves the page on
/// http://127.0.0.1:5080 (<c>--port N</c> or <c>--urls URL</c> to change it). Each tab gets a session that trains
/// its network with Cortex on the server and streams the state to the page as Server-Sent Events. Exit codes: 0 after
/// Ctrl+C, 1 when the address cannot be listened on (the port is taken), 2 for a bad <c>--port</c>; each failure is one
/// line on stderr.
/// </summary>
public static class Program
{
    public const int DefaultPort = 5080;
    private const int MaxBodyBytes = 16 * 1024;

    public static int Main(string[] args)
    {
        WebApplication app;
        try { app = CreateApp(args); }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }
        catch (IOException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
        app.Lifetime.ApplicationStarted.Register(() =>
            Console.WriteLine($"Cortex Playground: open {string.Join(" or ", app.Urls)} in a browser (Ctrl+C stops it)."));
        try { app.Start(); }
        catch (IOException e)
        {
            // A --urls address that is taken, or a port taken between the check and the start: the host has logged
            // the details; this is the line to act on.
            Console.Error.WriteLine("Cortex Playground: cannot start: " + string.Join(' ', e.Message.Split('\n', StringSplitOptions.TrimEntries)));
            return 1;
        }
        app.WaitForShutdown();
        return 0;
    }

    /// <summary>Builds the app (not started). Listens on 127.0.0.1:<c>--port</c> (default 5080) unless <c>--urls</c>
    /// is given; limits come from the <c>Playground:</c> configuration section (see <see cref="PlaygroundOptions"/>).</summary>
    /// <exception cref="ArgumentException"><c>--port</c> is not a port number.</exception>
    /// <exception cref="IOException">The <c>--port</c> on 127.0.0.1 cannot be listened on (another program holds it); the
    /// message is one line that says so.</exception>
    public static WebApplication CreateApp(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (string.IsNullOrEmpty(builder.Configuration["urls"]))
        {
            string portText = builder.Configuration["port"] ?? DefaultPort.ToString();
            if (!int.TryParse(portText, out int port) || port < 0 || port > 65535)
                throw new ArgumentException($"--port must be a TCP port number (0–65535). Received: '{portText}'");
            if (port != 0) CheckCanListen(port);
            builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        }
        // One line per request is noise in the terminal; startup, warnings and errors still show.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = MaxBodyBytes);
        var options = builder.Configuration.GetSection("Playground").Get<PlaygroundOptions>() ?? new PlaygroundOptions();
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<SessionStore>();
        builder.Services.AddRateLimiter(o =>
        {
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(ctx => Partition(ctx, options));
            o.OnRejected = async (ctx, token) =>
            {
                ctx.HttpContext.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                await ctx.HttpContext.Response.WriteAsJsonAsync(new { error = "Too many requests: slow down and retry in a second." }, token);
            };
        });

        var app = builder.Build();
        app.UseExceptionHandler(e => e.Run(async ctx =>
        {
            var error = ctx.Features.Get<Microsoft.AspNetCore.Diagnostics.IExceptionHandlerFeature>()?.Error;
            (int status, string message) = error switch
            {
                BadSettingsException b => (400, b.Message),
                BadHttpRequestException b => (b.StatusCode, b.Message),
                _ => (500, "The server failed to handle this request."),
            };
            ctx.Response.StatusCode = status;
            await ctx.Response.WriteAsJsonAsync(new { error = message });
        }));
        // Expected refusals (bad settings, an oversized body) are answered here, without an error log entry.
        app.Use(async (ctx, next) =>
        {
            try { await next(ctx); }
            catch (Exception e) when (e is BadSettingsException or BadHttpRequestException && !ctx.Response.HasStarted)
            {
                ctx.Response.StatusCode = e is BadHttpRequestException b ? b.StatusCode : StatusCodes.Status400BadRequest;
                await ctx.Response.WriteAsJsonAsync(new { error = e.Message });
            }
        });
        app.UseRateLimiter();

        // The page is ours and embedded in the assembly; nothing is loaded from anywhere else.
        var files = new EmbeddedFileProvider(typeof(Program).Assembly, "Cortex.Playground.wwwroot");
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            OnPrepareResponse = f => f.Context.Response.Headers.CacheControl = "no-cache",
        });

        MapApi(app, app.Services.GetRequiredService<SessionStore>());
        return app;
    }

    /// <summary>
    /// Listens on 127.0.0.1:<paramref name="port"/> for a moment, so that a taken port is one line before anything
    /// starts: otherwise the host logs the bind failure with its stack trace and the process aborts.
    /// </summary>
    private static void CheckCanListen(int port)
    {
        try
        {
            var probe = new TcpListener(IPAddress.Loopback, port);
            probe.Start();
            probe.Stop();
        }
        catch (SocketException e)
        {
            string why = e.SocketErrorCode == SocketError.AddressAlreadyInUse ? "the port is already in use (another Playground?)" : e.Message;
            throw new IOException($"Cortex Playground: cannot listen on http://127.0.0.1:{port}: {why}. Stop that program or choose another port with --port N.", e);
        }
    }

    private static RateLimitPartition<string> Partition(HttpContext ctx, PlaygroundOptions o)
    {
        string path = ctx.Request.Path.Value ?? "";
        if (!path.StartsWith("/api/", StringComparison.Ordinal)) return RateLimitPartition.GetNoLimiter("static");
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length >= 3 && parts[1] == "sessions" && IsId(parts[2]))
            return RateLimitPartition.GetTokenBucketLimiter("s:" + parts[2], _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = 2 * o.RequestsPerSecond, TokensPerPeriod = o.RequestsPerSecond,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1), QueueLimit = 0, AutoReplenishment = true,
            });
        // Creating sessions (and anything else under /api) is limited per client address.
        string ip = ctx.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        return RateLimitPartition.GetFixedWindowLimiter("ip:" + ip, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = 60, Window = TimeSpan.FromSeconds(10), QueueLimit = 0,
        });
    }

    private static bool IsId(string s) => s.Length == 32 && s.All(char.IsAsciiHexDigitLower);

    private static IResult Error(int status, string message) => Results.Json(new { error = message }, statusCode: status);

    private static IResult NoSession(string id) =>
        Error(404, "No such session (it may have been dropped after being idle): reload the page to start a new one.");

    private static object Describe(Session s) => new { id = s.Id, settings = s.Settings.ToJson(), code = s.Code() };

    /// <summary>Reads a small JSON body; an empty body reads as <c>{}</c>.</summary>
    private static async Task<JsonElement> ReadJson(HttpRequest request)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[4096];
        int n;
        while ((n = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted)) > 0)
        {
            buffer.Write(chunk, 0, n);
            if (buffer.Length > MaxBodyBytes) throw new BadSettingsException($"The request body is too large (limit {MaxBodyBytes} bytes).");
        }
        if (buffer.Length == 0) return JsonDocument.Parse("{}").RootElement;
        try { return JsonDocument.Parse(buffer.ToArray(), new JsonDocumentOptions { MaxDepth = 8 }).RootElement; }
        catch (JsonException e) { throw new BadSettingsException($"The request body is not valid JSON: {e.Message}"); }
    }

    private static void MapApi(WebApplication app, SessionStore store)
    {
        // The input features the page offers, with their pictures at the output heatmap's resolution.
        var features = InputFeatures.Describe(Session.OutputGrid);
        app.MapGet("/api/features", () => Results.Json(features));

        app.MapPost("/api/sessions", async (HttpRequest request) =>
        {
            var settings = new Settings().Merge(await ReadJson(request));
            var session = store.Create(settings);
            return session == null
                ? Error(503, $"The playground is full ({store.Options.MaxSessions} sessions): try again in a few minutes.")
                : Results.Json(Describe(session), statusCode: 201);
        });

        // Every per-session endpoint: a malformed or unknown id is a 404, never a lookup of anything else.
        void MapSession(string verb, string action, Func<Session, HttpContext, Task<IResult>> handler) =>
            app.MapMethods($"/api/sessions/{{id}}/{action}", [verb], async (string id, HttpContext ctx) =>
            {
                var session = IsId(id) ? store.Get(id) : null;
                return session == null ? NoSession(id) : await handler(session, ctx);
            });

        MapSession("POST", "settings", async (s, ctx) =>
        {
            s.Update(s.Settings.Merge(await ReadJson(ctx.Request)));
            return Results.Json(Describe(s));
        });
        MapSession("POST", "play", (s, _) => { s.Play(); return Task.FromResult(Results.Json(new { playing = s.Playing })); });
        MapSession("POST", "pause", (s, _) => { s.Pause(); return Task.FromResult(Results.Json(new { playing = false })); });
        MapSession("POST", "step", (s, _) => { s.Step(); return Task.FromResult(Results.Json(new { epoch = s.Epoch })); });
        MapSession("POST", "reset", (s, _) => { s.Reset(); return Task.FromResult(Results.Json(new { epoch = 0 })); });
        MapSession("POST", "regenerate", (s, _) =>
        {
            // A new seed: new points, and so a fresh network, as the TensorFlow Playground's "regenerate" does.
            s.Update(s.Settings with { Seed = Random.Shared.Next(1, 1_000_000) });
            return Task.FromResult(Results.Json(Describe(s)));
        });
        MapSession("POST", "close", (s, _) => { store.Remove(s.Id); return Task.FromResult(Results.Json(new { closed = true })); });
        MapSession("GET", "code", (s, _) => Task.FromResult(Results.Text(s.Code(), "text/plain; charset=utf-8")));
        MapSession("GET", "model", (s, _) =>
        {
            var settings = s.Settings;
            return Task.FromResult(Results.File(s.SaveModel(), "application/octet-stream",
                $"playground-{settings.Dataset}-epoch{s.Epoch}.cortex"));
        });
        MapSession("GET", "events", async (s, ctx) =>
        {
            if (Interlocked.Increment(ref s.Subscribers) > store.Options.MaxStreamsPerSession)
            {
                Interlocked.Decrement(ref s.Subscribers);
                return Error(429, $"This session already has {store.Options.MaxStreamsPerSession} event streams open.");
            }
            try { await StreamEvents(s, store, ctx); }
            finally { Interlocked.Decrement(ref s.Subscribers); }
            return Results.Empty;
        });
        app.MapFallback("/api/{**rest}", () => Error(404, "Unknown API endpoint."));
    }

    /// <summary>Server-Sent Events: <c>points</c> when the data changes, <c>state</c> at most a few times a second
    /// (always the latest, so a slow page skips states rather than queueing them), comments as keep-alives.</summary>
    private static async Task StreamEvents(Session s, SessionStore store, HttpContext ctx)
    {
        var response = ctx.Response;
        response.Headers.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        ctx.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var token = ctx.RequestAborted;
        long sentState = 0, sentPoints = 0;
        try
        {
            while (!token.IsCancellationRequested && store.Get(s.Id) != null)
            {
                var changed = s.Changed;
                var (pointsJson, pointsVersion) = s.PointsState;
                if (pointsVersion != sentPoints)
                {
                    await response.WriteAsync($"event: points\ndata: {pointsJson}\n\n", token);
                    sentPoints = pointsVersion;
                }
                var (stateJson, stateVersion) = s.State;
                if (stateVersion != sentState)
                {
                    await response.WriteAsync($"event: state\ndata: {stateJson}\n\n", token);
                    sentState = stateVersion;
                }
                await response.Body.FlushAsync(token);
                var woke = await Task.WhenAny(changed, Task.Delay(TimeSpan.FromSeconds(15), token));
                if (woke != changed) await response.WriteAsync(": keep-alive\n\n", token);
            }
        }
        catch (OperationCanceledException) { }
        catch (IOException) { }
    }
}
