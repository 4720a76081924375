using System.Diagnostics;
using System.Net.Http.Json;

namespace Cortex.Playground.Tests;

/// <summary>
/// Twenty tabs training at once for 30 seconds, on loopback only: every request succeeds, every session keeps
/// advancing, and the server's memory stays bounded. Bounded by a hard deadline and a fixed request budget.
/// </summary>
public sealed class LoadTest
{
    private const int Sessions = 20;
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task TwentySessions_TrainFor30Seconds_NoFailures_AllAdvance_MemoryBounded()
    {
        await using var server = await PlaygroundServer.StartAsync();
        using var deadline = new CancellationTokenSource(Duration + TimeSpan.FromSeconds(30)); // stops by itself, whatever happens
        Assert.StartsWith("http://127.0.0.1:", server.Url);

        int requests = 0, failures = 0;
        var errors = new List<string>();
        async Task Request(Func<Task<HttpResponseMessage>> send, string what)
        {
            Interlocked.Increment(ref requests);
            try
            {
                using var res = await send();
                if (!res.IsSuccessStatusCode) throw new HttpRequestException($"{(int)res.StatusCode} {await res.Content.ReadAsStringAsync()}");
            }
            catch (Exception e)
            {
                Interlocked.Increment(ref failures);
                lock (errors) errors.Add($"{what}: {e.Message}");
            }
        }

        var datasets = new[] { "circle", "xor", "gauss", "spiral" };
        var ids = new string[Sessions];
        for (int i = 0; i < Sessions; i++)
            ids[i] = await server.CreateSessionAsync(new { dataset = datasets[i % 4], layers = new[] { 8, 8, 4 }, seed = i + 1 });
        var streams = ids.Select(id => new EventStream(server.Http, id)).ToArray();
        foreach (var id in ids) await Request(() => server.Http.PostAsync($"/api/sessions/{id}/play", null), "play");

        long baseline = GC.GetTotalMemory(forceFullCollection: true);
        long peak = 0;
        var epochsAt = new List<int[]>();
        var clock = Stopwatch.StartNew();
        int round = 0;
        while (clock.Elapsed < Duration && !deadline.IsCancellationRequested)
        {
            // Each second every session also changes a setting that keeps training going (learning rate, batch size),
            // as a user would while watching: 20 requests a second on top of the 20 open streams.
            round++;
            await Task.WhenAll(ids.Select((id, i) => Request(() => server.Http.PostAsJsonAsync($"/api/sessions/{id}/settings",
                new { learningRate = round % 2 == 0 ? 0.03 : 0.01, batchSize = 5 + (round + i) % 20 }, deadline.Token), "settings")));
            peak = Math.Max(peak, GC.GetTotalMemory(false));
            if (round % 10 == 1) epochsAt.Add([.. streams.Select(s => s.Epoch)]);
            await Task.Delay(1000, deadline.Token);
        }
        epochsAt.Add([.. streams.Select(s => s.Epoch)]);
        foreach (var id in ids) await Request(() => server.Http.PostAsync($"/api/sessions/{id}/pause", null), "pause");
        foreach (var s in streams) await s.DisposeAsync();

        Console.WriteLine($"load: {requests} requests, {failures} failed; epochs per session at 10 s intervals: " +
            string.Join(" | ", epochsAt.Select(e => $"min {e.Min()} max {e.Max()}")) + $"; managed heap {baseline >> 20} MiB → peak {peak >> 20} MiB");
        Assert.True(failures == 0, $"{failures} of {requests} requests failed: {string.Join("; ", errors.Take(5))}");
        Assert.All(streams, s => Assert.Null(s.Error));
        Assert.True(requests <= Sessions * 40, $"The test made {requests} requests; its budget is {Sessions * 40}.");
        // Every session advances in every 10-second window.
        Assert.True(epochsAt.Count >= 3, $"Only {epochsAt.Count} samples were taken.");
        for (int w = 1; w < epochsAt.Count; w++)
            for (int i = 0; i < Sessions; i++)
                Assert.True(epochsAt[w][i] > epochsAt[w - 1][i], $"Session {i} did not advance between samples {w - 1} and {w}: epoch {epochsAt[w - 1][i]} → {epochsAt[w][i]}.");
        Assert.True(peak < 256L << 20, $"The managed heap peaked at {peak >> 20} MiB.");
        Assert.Equal(Sessions, server.Store.Count);
    }
}
