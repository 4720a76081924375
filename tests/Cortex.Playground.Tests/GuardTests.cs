using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Cortex.Playground.Tests;

/// <summary>
/// A taken port is one line and exit code 1, not a stack trace; a network whose loss becomes NaN is reported as
/// diverged and stops training until it is reset.
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

    [Fact]
    public async Task TakenPort_IsOneLineOnStderrAndExitCode1()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        int port = ((IPEndPoint)holder.LocalEndpoint).Port;

        string dll = Path.Combine(AppContext.BaseDirectory, "Cortex.Playground.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, StandardErrorEncoding = Encoding.UTF8 };
        foreach (string a in (string[])[dll, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)]) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"The playground kept running on a taken port {port}.");
        }

        string err = await stderr;
        Assert.True(process.ExitCode == 1, $"exit {process.ExitCode}\n--- stdout\n{await stdout}\n--- stderr\n{err}");
        string[] lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Single(lines);
        Assert.Contains($"127.0.0.1:{port}", lines[0]);
        Assert.Contains("already in use", lines[0]);
        Assert.Contains("--port", lines[0]);
        Assert.DoesNotContain("   at ", await stdout);
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
