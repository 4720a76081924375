using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Cortex.Playground;

/// <summary>Limits the playground enforces; all can be set in configuration under <c>Playground:</c>.</summary>
public sealed record PlaygroundOptions
{
    /// <summary>Sessions alive at once; creating one more is refused with 503.</summary>
    public int MaxSessions { get; init; } = 64;
    /// <summary>A session with no open event stream and no request for this long is dropped.</summary>
    public int IdleTimeoutSeconds { get; init; } = 120;
    /// <summary>A playing session whose page has gone (no open event stream) pauses after this long.</summary>
    public int OrphanPauseSeconds { get; init; } = 20;
    /// <summary>Sessions that may train at the same moment (cores used for training at most).</summary>
    public int TrainingSlots { get; init; } = Math.Max(1, Environment.ProcessorCount / 2);
    public int SliceMs { get; init; } = 12;
    public int RestMs { get; init; } = 8;
    public int PublishIntervalMs { get; init; } = 200;
    /// <summary>Requests per second one session may make (a burst of twice this is allowed).</summary>
    public int RequestsPerSecond { get; init; } = 20;
    /// <summary>Event streams one session may hold open.</summary>
    public int MaxStreamsPerSession { get; init; } = 4;
}

/// <summary>The live sessions, by unguessable id, with the sweeper that pauses orphaned and drops idle ones.</summary>
public sealed class SessionStore : IDisposable
{
    private readonly ConcurrentDictionary<string, Session> sessions = new();
    private readonly Timer sweeper;
    private readonly object createGate = new();

    public SessionStore(PlaygroundOptions options)
    {
        Options = options;
        Scheduler = new TrainingScheduler(options.TrainingSlots, options.SliceMs, options.RestMs, options.PublishIntervalMs);
        sweeper = new Timer(_ => Sweep(), null, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2));
    }

    public PlaygroundOptions Options { get; }
    public TrainingScheduler Scheduler { get; }
    public int Count => sessions.Count;

    /// <summary>Starts a session, or returns null when <see cref="PlaygroundOptions.MaxSessions"/> are alive.</summary>
    public Session? Create(Settings settings)
    {
        lock (createGate)
        {
            if (sessions.Count >= Options.MaxSessions) return null;
            string id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            var session = new Session(id, settings, Scheduler);
            sessions[id] = session;
            return session;
        }
    }

    public Session? Get(string id)
    {
        if (!sessions.TryGetValue(id, out var s)) return null;
        s.Touch();
        return s;
    }

    public void Remove(string id)
    {
        if (sessions.TryRemove(id, out var s)) s.Close();
    }

    private void Sweep()
    {
        long now = DateTime.UtcNow.Ticks;
        foreach (var (id, s) in sessions)
        {
            if (Volatile.Read(ref s.Subscribers) > 0) { s.Touch(); continue; }
            double idle = TimeSpan.FromTicks(now - s.LastSeen).TotalSeconds;
            if (idle > Options.IdleTimeoutSeconds) Remove(id);
            else if (idle > Options.OrphanPauseSeconds && s.Playing) s.Pause();
        }
    }

    public void Dispose()
    {
        sweeper.Dispose();
        foreach (var id in sessions.Keys) Remove(id);
    }
}
