namespace Cortex.Playground;

/// <summary>
/// Shares the CPU among the sessions that are playing: a session trains only while it holds one of a few slots, for
/// one short slice at a time, then rests; waiters queue in order, so every session keeps advancing and twenty of them
/// together use no more than the slots' cores.
/// </summary>
public sealed class TrainingScheduler(int slots, int sliceMs, int restMs, int publishIntervalMs)
{
    private readonly SemaphoreSlim semaphore = new(slots, slots);

    /// <summary>Longest run of epochs between two chances for other sessions (and requests) to go.</summary>
    public int SliceMs { get; } = sliceMs;
    /// <summary>Pause after each slice, so that one session alone uses at most about slice/(slice+rest) of a core.</summary>
    public int RestMs { get; } = restMs;
    /// <summary>How often a playing session pushes its state to the page.</summary>
    public int PublishIntervalMs { get; } = publishIntervalMs;

    public Task WaitAsync(CancellationToken token) => semaphore.WaitAsync(token);

    public void Release() => semaphore.Release();
}
