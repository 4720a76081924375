using Xunit.Abstractions;

namespace Cortex.Tests.Kernels;

/// <summary>
/// An exhaustive check of the worker pool's hand-off protocol (<c>Kernels/GemmThreads.cs</c>): every interleaving of
/// one caller publishing a sequence of jobs and 2–3 workers, explored state by state, with the protocol's shared
/// variables and each thread's steps written out below one load or store at a time (sequentially consistent: the
/// code's fences are there to give exactly that). The checker also runs the protocol as it was before the fix and must
/// find the double run that stalled and crashed it on 3+ CPUs, so a check that finds nothing means something.
/// </summary>
public class WorkerPoolProtocolTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(2, new[] { 2, 3, 1, 3 })]
    [InlineData(2, new[] { 3, 1, 2, 3 })]
    [InlineData(3, new[] { 4, 2, 4 })]
    [InlineData(3, new[] { 1, 3, 4, 2 })]
    public void TicketProtocolRunsEveryPartOnceAndNeverStalls(int workers, int[] jobs)
    {
        var result = PoolModel.Explore(workers, jobs, legacy: false);
        output.WriteLine($"{result.States} states, {result.Completions} finishing");
        Assert.True(result.Violation == null, result.Violation);
        Assert.True(result.Completions > 0, "no interleaving finished every job");
        Assert.True(result.States > 1000, $"only {result.States} states explored");
    }

    [Fact]
    public void TheCheckerFindsTheLegacyProtocolsDoubleRun()
    {
        // Generation and part count read in two loads: a worker that had no part in job 1 reads job 2's part count,
        // runs its part of job 2, then sees generation 2 as new and runs it again.
        var result = PoolModel.Explore(2, [2, 3], legacy: true);
        output.WriteLine(result.Violation);
        Assert.NotNull(result.Violation);
        Assert.Matches("twice|pending is -1|not published", result.Violation);
    }

    /// <summary>The protocol as a state machine; a state is one int[] (see the offsets below).</summary>
    private static class PoolModel
    {
        // Caller program counters.
        private const int CWrite = 0, CPending = 1, CPublish = 2, CReadSleeping = 3, CLock = 4, CPulse = 5, CRun = 6, CWait = 7, CDone = 8;
        // Worker program counters: W* the spin loop and the part, S* the sleep path (lock, count, re-check, wait).
        private const int WRead = 0, WSeen = 1, WParts = 2, WRunStart = 3, WRunEnd = 4, WDecrement = 5,
            SLock = 6, SCount = 7, SCheck = 8, SWaiting = 9, SRelock = 10, SLeave = 11;

        public sealed record Result(string? Violation, int States, int Completions);

        // Shared: 0 caller pc, 1 caller job, 2 ticket generation, 3 ticket parts, 4 fields' job, 5 pending,
        // 6 sleeping, 7 lock owner (0 none, 1 caller, 2 + w worker w); per worker w at 8 + 6w: pc, seen, read
        // generation, read parts, job whose fields it is running; then a run count and a decrement count per (job, part).
        private const int Shared = 8, PerWorker = 6;

        public static Result Explore(int workers, int[] jobs, bool legacy)
        {
            int maxParts = jobs.Max();
            int countsAt = Shared + PerWorker * workers;
            var start = new int[countsAt + 2 * jobs.Length * maxParts];
            start[2] = -1;   // no job published yet: generation -1, the generation the workers have "seen"
            start[4] = -1;
            for (int w = 0; w < workers; w++) start[Shared + PerWorker * w + 1] = -1;

            var seen = new HashSet<string>();
            var stack = new Stack<int[]>();
            stack.Push(start);
            seen.Add(Key(start));
            int completions = 0;
            while (stack.Count > 0)
            {
                var s = stack.Pop();
                if (s[0] == CDone)
                {
                    for (int j = 0; j < jobs.Length; j++)
                        for (int p = 1; p < jobs[j]; p++)
                            if (Runs(s, j, p) != 1) return new($"job {j} part {p} ran {Runs(s, j, p)} times", seen.Count, completions);
                    completions++;
                    continue;
                }
                bool any = false;
                for (int t = 0; t <= workers; t++)
                {
                    var next = (int[])s.Clone();
                    string? violation = t == 0 ? StepCaller(next, jobs) : StepWorker(next, t - 1, jobs, legacy);
                    if (violation != null) return new(violation, seen.Count, completions);
                    if (next.AsSpan().SequenceEqual(s)) continue;   // not enabled (blocked)
                    any = true;
                    if (Check(next, jobs, workers) is { } broken) return new(broken, seen.Count, completions);
                    if (seen.Add(Key(next))) stack.Push(next);
                }
                if (!any) return new($"deadlock: caller at {s[0]} of job {s[1]}, pending {s[5]}", seen.Count, completions);
            }
            return new(null, seen.Count, completions);

            int Runs(int[] s, int j, int p) => s[countsAt + 2 * (j * maxParts + p)];
            ref int RunCount(int[] s, int j, int p) => ref s[countsAt + 2 * (j * maxParts + p)];
            ref int Decrements(int[] s, int j, int p) => ref s[countsAt + 2 * (j * maxParts + p) + 1];

            // One step of the caller (Dispatch), which holds s_gate throughout.
            string? StepCaller(int[] s, int[] jobs)
            {
                int j = s[1];
                switch (s[0])
                {
                    case CWrite: s[4] = j; if (legacy) s[3] = jobs[j]; s[0] = CPending; break;   // bounds, body (legacy: s_parts too)
                    case CPending: s[5] = jobs[j] - 1; s[0] = CPublish; break;
                    case CPublish: s[2] = j; if (!legacy) s[3] = jobs[j]; s[0] = CReadSleeping; break;   // the ticket (legacy: the generation)
                    case CReadSleeping: s[0] = s[6] > 0 ? CLock : CRun; break;
                    case CLock: if (s[7] == 0) { s[7] = 1; s[0] = CPulse; } break;
                    case CPulse:
                        for (int w = 0; w < workers; w++)
                            if (s[Shared + PerWorker * w] == SWaiting) s[Shared + PerWorker * w] = SRelock;
                        s[7] = 0;
                        s[0] = CRun;
                        break;
                    case CRun: s[0] = CWait; break;   // part 0
                    case CWait:
                        if (s[5] == 0)
                        {
                            s[1] = j + 1;
                            s[0] = j + 1 == jobs.Length ? CDone : CWrite;
                        }
                        break;
                }
                return null;
            }

            // One step of worker w (Worker), whose part is w + 1.
            string? StepWorker(int[] s, int w, int[] jobs, bool legacy)
            {
                int b = Shared + PerWorker * w, part = w + 1;
                switch (s[b])
                {
                    case WRead:
                        // One load of the ticket (legacy: of the generation alone).
                        s[b + 2] = s[2];
                        s[b + 3] = s[3];
                        s[b] = s[2] == s[b + 1] ? SLock : WSeen;
                        break;
                    case WSeen:
                        // seen = the generation read (legacy: re-read from the shared word).
                        s[b + 1] = legacy ? s[2] : s[b + 2];
                        s[b] = WParts;
                        break;
                    case WParts:
                        int parts = legacy ? s[3] : s[b + 3];   // legacy: s_parts read now, maybe another job's
                        s[b] = part < parts ? WRunStart : WRead;
                        break;
                    case WRunStart:
                        int job = s[4];
                        if (job != s[1] || s[0] is < CReadSleeping or CDone || part >= jobs[job])
                            return $"worker {w} runs part {part} of job {job}, which is not published or has no such part";
                        s[b + 4] = job;
                        if (++RunCount(s, job, part) > 1) return $"worker {w} runs part {part} of job {job} twice";
                        s[b] = WRunEnd;
                        break;
                    case WRunEnd:
                        if (s[4] != s[b + 4]) return $"worker {w}'s job {s[b + 4]} was replaced by job {s[4]} while it ran";
                        s[b] = WDecrement;
                        break;
                    case WDecrement:
                        s[5]--;
                        Decrements(s, s[b + 4], part)++;
                        s[b] = WRead;
                        break;
                    case SLock: if (s[7] == 0) { s[7] = 2 + w; s[b] = SCount; } break;
                    case SCount: s[6]++; s[b] = SCheck; break;
                    case SCheck: s[b] = s[2] == s[b + 1] ? SWaiting : SLeave; if (s[b] == SWaiting) s[7] = 0; break;   // Monitor.Wait releases
                    case SWaiting: break;   // until the caller's PulseAll
                    case SRelock: if (s[7] == 0) { s[7] = 2 + w; s[b] = SCheck; } break;
                    case SLeave: s[6]--; s[7] = 0; s[b] = WRead; break;
                }
                return null;
            }
        }

        /// <summary>Invariants of every reachable state: the count the caller waits on is exactly the parts not yet
        /// counted, and no worker whose part the caller waits for sleeps without a wake-up coming.</summary>
        private static string? Check(int[] s, int[] jobs, int workers)
        {
            if (s[0] is < CReadSleeping or CDone) return null;
            int j = s[1], outstanding = 0;
            int countsAt = Shared + PerWorker * workers, maxParts = jobs.Max();
            for (int p = 1; p < jobs[j]; p++)
                if (s[countsAt + 2 * (j * maxParts + p) + 1] == 0) outstanding++;
            if (s[5] != outstanding) return $"job {j}: pending is {s[5]} with {outstanding} parts outstanding";
            if (s[0] >= CRun)
                for (int w = 0; w < workers; w++)
                    if (w + 1 < jobs[j] && s[Shared + PerWorker * w] == SWaiting && s[countsAt + 2 * (j * maxParts + w + 1) + 1] == 0)
                        return $"job {j}: worker {w} sleeps through it (lost wake-up)";
            return null;
        }

        private static string Key(int[] s) => string.Join(',', s);
    }
}
