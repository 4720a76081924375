using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Cortex.Playground.Tests;

/// <summary>
/// A taken or malformed address (<c>--port</c>, <c>--urls</c>, ASPNETCORE_URLS) is one line and exit code 1, not a
/// stack trace, as bad usage is in the CLI; a network whose loss becomes NaN is reported as diverged and stops training
/// until it is reset.
/// </summary>
public sealed class GuardTests : IAsyncLifetime
{
    private PlaygroundServer server = null!;

    public async Task InitializeAsync() => server = await PlaygroundServer.StartAsync();
    public async Task DisposeAsync() => await server.DisposeAsync();

    // Regression with plain SGD at the largest rate the page offers: the squared error explodes within a few epochs.
    private static readonly object Diverging = new { problem = "regression", dataset = "plane", optimizer = "sgd", learningRate = 10, layers = new[] { 8, 8 } };

    private JsonElement StateOf(string id) => JsonDocument.Parse(server.Store.Get(id)!.State.Json).RootElement;

    private async Task<JsonElement> PostAsync(string id, string action)
    {
        using var res = await server.Http.PostAsync($"/api/sessions/{id}/{action}", null);
        res.EnsureSuccessStatusCode();
        return await res.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>Runs the built playground as a process, as a user would, and returns how it ended and what it printed.</summary>
    private static async Task<(int ExitCode, string Out, string[] ErrLines)> RunProcessAsync(string[] args, string? aspnetcoreUrls = null)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "Cortex.Playground.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, StandardErrorEncoding = Encoding.UTF8 };
        start.ArgumentList.Add(dll);
        foreach (string a in args) start.ArgumentList.Add(a);
        if (aspnetcoreUrls != null) start.Environment["ASPNETCORE_URLS"] = aspnetcoreUrls;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"The playground kept running with {string.Join(' ', args)} (ASPNETCORE_URLS={aspnetcoreUrls}).");
        }
        string err = await stderr, output = await stdout;
        Assert.True(process.ExitCode != 1 || err.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length == 1,
            $"exit {process.ExitCode}, expected one line on stderr\n--- stdout\n{output}\n--- stderr\n{err}");
        Assert.DoesNotContain("   at ", output + err);
        return (process.ExitCode, output, err.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    /// <summary>Holds a port on 127.0.0.1 for the duration of a test.</summary>
    private static TcpListener HoldPort(out int port)
    {
        var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        port = ((IPEndPoint)holder.LocalEndpoint).Port;
        return holder;
    }

    [Theory]
    [InlineData("--port", "{0}", "choose another port with --port N")]
    [InlineData("--urls", "http://127.0.0.1:{0}", "choose another address with --urls")]
    [InlineData("--urls", "http://127.0.0.1:0;http://localhost:{0}", "choose another address with --urls")]
    [InlineData("ASPNETCORE_URLS", "http://localhost:{0}", "choose another address with --urls (or ASPNETCORE_URLS)")]
    public async Task TakenAddress_IsOneLineOnStderrAndExitCode1(string via, string address, string hint)
    {
        using var holder = HoldPort(out int port);
        address = string.Format(System.Globalization.CultureInfo.InvariantCulture, address, port);

        var (exit, _, err) = via == "ASPNETCORE_URLS" ? await RunProcessAsync([], aspnetcoreUrls: address) : await RunProcessAsync([via, address]);

        Assert.Equal(1, exit);
        Assert.Contains($":{port}: the port is already in use", err[0]);
        Assert.Contains(hint, err[0]);
    }

    [Theory]
    [InlineData("--port", "eighty")]
    [InlineData("--port", "70000")]
    [InlineData("--urls", "127.0.0.1 5080")]
    public async Task BadAddress_IsOneLineOnStderrAndExitCode1AsInTheCli(string option, string value)
    {
        var (exit, _, err) = await RunProcessAsync([option, value]);

        Assert.Equal(1, exit);
        Assert.Contains(option, err[0]);
        Assert.Contains(value, err[0]);
    }

    [Fact]
    public async Task Help_DocumentsOptionsAndExitCodes()
    {
        var (exit, output, err) = await RunProcessAsync(["--help"]);

        Assert.Equal(0, exit);
        Assert.Empty(err);
        Assert.Equal(Program.Help, output);
        foreach (string s in (string[])["--port N", "--urls URL", "ASPNETCORE_URLS", "  0  stopped with Ctrl+C", "  1  bad usage", "  2  an unexpected internal error"])
            Assert.Contains(s, output);
    }

    [Fact]
    public async Task Divergence_StopsPlayingAndIsReportedUntilReset()
    {
        string id = await server.CreateSessionAsync(Diverging);
        Assert.False(StateOf(id).GetProperty("diverged").GetBoolean());

        Assert.True((await PostAsync(id, "play")).GetProperty("playing").GetBoolean());
        var clock = Stopwatch.StartNew();
        while (StateOf(id).GetProperty("playing").GetBoolean() && clock.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(50);
        var state = StateOf(id);
        Assert.False(state.GetProperty("playing").GetBoolean(), "training kept running after the loss became NaN");
        Assert.True(state.GetProperty("diverged").GetBoolean());
        Assert.Equal(JsonValueKind.Null, state.GetProperty("trainLoss").ValueKind); // NaN travels as null, drawn as "NaN"

        // Play and step do nothing more until the network is reset: its weights are NaN.
        int epoch = state.GetProperty("epoch").GetInt32();
        Assert.False((await PostAsync(id, "play")).GetProperty("playing").GetBoolean());
        Assert.Equal(epoch, (await PostAsync(id, "step")).GetProperty("epoch").GetInt32());
        Assert.True(StateOf(id).GetProperty("diverged").GetBoolean());

        await PostAsync(id, "reset");
        state = StateOf(id);
        Assert.False(state.GetProperty("diverged").GetBoolean());
        Assert.Equal(0, state.GetProperty("epoch").GetInt32());
    }

    [Fact]
    public async Task Divergence_ByStepping_IsReportedAndStepsStop()
    {
        string id = await server.CreateSessionAsync(Diverging);
        int steps = 0;
        while (!StateOf(id).GetProperty("diverged").GetBoolean() && steps < 30)
        {
            await PostAsync(id, "step");
            steps++;
        }
        Assert.True(StateOf(id).GetProperty("diverged").GetBoolean(), $"still finite after {steps} epochs at learning rate 10");
        int epoch = StateOf(id).GetProperty("epoch").GetInt32();
        Assert.Equal(epoch, (await PostAsync(id, "step")).GetProperty("epoch").GetInt32());
    }
}
