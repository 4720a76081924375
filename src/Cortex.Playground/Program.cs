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
/// its network with Cortex on the server and streams the state to the page as Server-Sent Events. Exit codes are the
/// <c>cortex</c> command's (<see cref="Help"/>): a bad or taken address is one line on stderr, not the host's stack trace.
/// </summary>
public static class Program
{
    public const int DefaultPort = 5080;
    private const int MaxBodyBytes = 16 * 1024;

    /// <summary>Exit code: stopped with Ctrl+C, or help printed.</summary>
    public const int Ok = 0;
    /// <summary>Exit code, as the CLI's for bad usage: a <c>--port</c> or <c>--urls</c> that is not an address, or an
    /// address that cannot be listened on (another program holds the port).</summary>
    public const int BadUsage = 1;
    /// <summary>Exit code, as the CLI's: an unexpected error (set CORTEX_DEBUG=1 for its stack trace).</summary>
    public const int InternalError = 2;

    /// <summary>What <c>--help</c> prints.</summary>
    public const string Help = """
        Cortex Playground: the TensorFlow Playground in the browser, trained live by Cortex on this machine.

        Usage: dotnet run --project src/Cortex.Playground -- [options]

        Options:
          --port N                    listen on http://127.0.0.1:N (default 5080; 0 picks a free port)
          --urls URL[;URL...]         listen on these addresses instead, e.g. http://0.0.0.0:8080 (ASPNETCORE_URLS
                                      in the environment does the same)
          --Playground:NAME=VALUE     a limit: MaxSessions, IdleTimeoutSeconds, TrainingSlots, RequestsPerSecond, ...
          -h, --help                  print this help

        Exit codes (as the cortex command's):
          0  stopped with Ctrl+C, or this help
          1  bad usage: a --port or --urls that is not an address, or an address another program holds (one line on stderr)
          2  an unexpected internal error (CORTEX_DEBUG=1 prints its stack trace)

        """;

    public static int Main(string[] args)
    {
        if (args.Any(a => a is "-h" or "--help" or "-?"))
        {
            Console.Write(Help);
            return Ok;
        }
        WebApplication app;
        try
        {
            app = CreateApp(args);
            app.Lifetime.ApplicationStarted.Register(() =>
                Console.WriteLine($"Cortex Playground: open {string.Join(" or ", app.Urls)} in a browser (Ctrl+C stops it)."));
            app.Start();
        }
        catch (Exception e) when (e is ArgumentException or IOException)
        {
            // A bad or taken address, found by CreateApp before the host starts, so that this line is all that shows.
            // (A port taken between that check and the start fails in Start, after the host has logged it.)
            Console.Error.WriteLine("Cortex Playground: " + OneLine(e.Message));
            return BadUsage;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"Cortex Playground: internal error: {e.GetType().Name}: {OneLine(e.Message)}");
            Console.Error.WriteLine(Environment.GetEnvironmentVariable("CORTEX_DEBUG") is { Length: > 0 } ? e.ToString() : "Cortex Playground: set CORTEX_DEBUG=1 to print the stack trace.");
            return InternalError;
        }
        app.WaitForShutdown();
        return Ok;
    }

    private static string OneLine(string message) => string.Join(' ', message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));

    /// <summary>Builds the app (not started). Listens on 127.0.0.1:<c>--port</c> (default 5080) unless <c>--urls</c>
    /// is given; limits come from the <c>Playground:</c> configuration section (see <see cref="PlaygroundOptions"/>).</summary>
    /// <exception cref="ArgumentException"><c>--port</c> is not a port number, or <c>--urls</c> (or ASPNETCORE_URLS) not
    /// a list of addresses.</exception>
    /// <exception cref="IOException">An address cannot be listened on (another program holds its port); the message is
    /// one line that says so.</exception>
    public static WebApplication CreateApp(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        string? urls = builder.Configuration["urls"]; // --urls, or ASPNETCORE_URLS from the environment
        if (!string.IsNullOrEmpty(urls)) CheckCanListen(urls);
        else
        {
            string portText = builder.Configuration["port"] ?? DefaultPort.ToString();
            if (!int.TryParse(portText, out int port) || port < 0 || port > 65535)
                throw new ArgumentException($"--port must be a TCP port number (0–65535). Received: '{portText}'");
            if (port != 0) Probe(new TcpListener(IPAddress.Loopback, port), $"http://127.0.0.1:{port}", "choose another port with --port N");
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
    /// Probes each address of <paramref name="urls"/> (separated by ';') as Kestrel will bind it: <c>localhost</c> on
    /// the IPv4 and IPv6 loopbacks, an IP address as given, any other host (<c>*</c>, <c>+</c>, a name) on every
    /// interface. Port 0 and Unix sockets are left to the host.
    /// </summary>
    private static void CheckCanListen(string urls)
    {
        const string hint = "choose another address with --urls (or ASPNETCORE_URLS)";
        foreach (string url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            BindingAddress address;
            try { address = BindingAddress.Parse(url); }
            catch (FormatException)
            {
                throw new ArgumentException($"--urls must be addresses such as http://127.0.0.1:8080, separated by ';'. Received: '{url}'");
            }
            if (address.IsUnixPipe || address.IsNamedPipe || address.Port == 0) continue;
            if (address.Host == "localhost")
            {
                Probe(new TcpListener(IPAddress.Loopback, address.Port), url, hint);
                // Kestrel also fails when another program holds the IPv6 loopback's port; one without IPv6 is fine.
                if (Socket.OSSupportsIPv6) Probe(new TcpListener(IPAddress.IPv6Loopback, address.Port), url, hint, onlyIfTaken: true);
            }
            else if (IPAddress.TryParse(address.Host.Trim('[', ']'), out var ip)) Probe(new TcpListener(ip, address.Port), url, hint);
            else Probe(TcpListener.Create(address.Port), url, hint); // every interface, IPv6 dual-mode where there is IPv6, as Kestrel
        }
    }

    /// <summary>
    /// Listens on <paramref name="listener"/>'s address for a moment, so that a taken port is one line before anything
    /// starts: otherwise the host logs the bind failure with its stack trace and the process aborts.
    /// </summary>
    private static void Probe(TcpListener listener, string url, string hint, bool onlyIfTaken = false)
    {
        try
        {
            listener.Start();
            listener.Stop();
        }
        catch (SocketException e) when (!onlyIfTaken || e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            string why = e.SocketErrorCode == SocketError.AddressAlreadyInUse ? "the port is already in use (another Playground?)" : e.Message;
            throw new IOException($"cannot listen on {url}: {why}. Stop that program or {hint}.", e);
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
        MapSession("POST", "play", (s, _) => Task.FromResult(Results.Json(new { playing = s.Play() })));
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
        MapSession("GET", "model.onnx", (s, _) =>
        {
            var settings = s.Settings;
            return Task.FromResult(Results.File(s.SaveOnnx(), "application/octet-stream",
                $"playground-{settings.Dataset}-epoch{s.Epoch}.onnx"));
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
