using System.Text.Json;

namespace Cortex.Playground.Tests;

/// <summary>Reads a session's Server-Sent Events in the background and keeps the latest epoch and state count.</summary>
public sealed class EventStream : IAsyncDisposable
{
    private readonly CancellationTokenSource cts = new();
    private readonly Task reader;
    private int epoch = -1, states;

    public EventStream(HttpClient http, string sessionId) => reader = Task.Run(() => ReadAsync(http, sessionId));

    public int Epoch => Volatile.Read(ref epoch);
    public int States => Volatile.Read(ref states);
    public Exception? Error { get; private set; }

    private async Task ReadAsync(HttpClient http, string id)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/sessions/{id}/events");
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            response.EnsureSuccessStatusCode();
            using var body = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
            string? ev = null;
            while (await body.ReadLineAsync(cts.Token) is { } line)
            {
                if (line.StartsWith("event: ", StringComparison.Ordinal)) ev = line[7..];
                else if (line.StartsWith("data: ", StringComparison.Ordinal) && ev == "state")
                {
                    using var doc = JsonDocument.Parse(line.AsMemory(6));
                    Volatile.Write(ref epoch, doc.RootElement.GetProperty("epoch").GetInt32());
                    Interlocked.Increment(ref states);
                }
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested) { }
        catch (Exception e) { Error = e; }
    }

    public async ValueTask DisposeAsync()
    {
        cts.Cancel();
        await reader;
        cts.Dispose();
    }
}
