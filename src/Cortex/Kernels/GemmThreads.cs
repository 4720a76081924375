using System.Runtime.CompilerServices;
using System.Diagnostics;

namespace Cortex.Kernels;

/// <summary>
/// The worker threads behind a parallel <see cref="Gemm"/>: ProcessorCount − 1 background threads plus the caller.
/// </summary>
/// <remarks>
/// Why not Parallel.For or the thread pool: a training step issues many mid-sized products back to back, each worth
/// tens of microseconds; a queued work item plus its wake-up costs several microseconds and allocates. Here a product
/// is published by bumping a generation counter that idle workers spin on for a short while (so back-to-back products
/// start in well under a microsecond) before they block on a monitor (so an idle library burns no CPU). The caller
/// always runs part 0 itself. One parallel product runs at a time; a concurrent caller that finds the workers busy runs
/// its product single-threaded instead of waiting.
/// </remarks>
internal static unsafe class GemmThreads
{
    /// <summary>Upper bound on parts per product (caller + workers).</summary>
    public static int MaxParts { get; } = Math.Clamp(Environment.ProcessorCount, 1, 64);

    /// <summary>How long an idle worker spins before it blocks: long enough to bridge the gap between the products of a
    /// training step, short enough not to steal a core from other work for long.</summary>
    private static readonly long SpinTicks = Stopwatch.Frequency / 5000;   // 200 µs

    /// <summary>Tests set this to run everything on their own thread, as when the workers are busy, to check that a
    /// result does not depend on how many cores computed it.</summary>
    [ThreadStatic] internal static bool SerialOnThisThread;

    private static readonly object s_gate = new();
    private static readonly object s_sleep = new();
    private static Thread[] s_workers = [];
    private static int s_pending, s_sleeping;
    private static Exception? s_error;

    /// <summary>The published job's generation and part count in one word (see <see cref="Ticket"/>), so a worker reads
    /// both in one load: which job it saw and whether that job has a part for it can never come from two different jobs.</summary>
    private static long s_ticket;

    // The published product, written only while s_gate is held.
    private static GemmProblem s_problem;
    private static delegate*<in GemmProblem, int, int, int, int, void> s_body;
    private static bool s_splitN;
    private static readonly int[] s_bounds = new int[65];
    // Or a plain range job (element-wise kernels such as an optimizer step): body(state, lo, hi) per part.
    private static delegate*<void*, int, int, void> s_rangeBody;
    private static void* s_rangeState;

    /// <summary>
    /// Runs <paramref name="body"/>(state, bounds[t], bounds[t + 1]) for each part t on the workers and the caller, and
    /// returns when all are done; false (nothing run) when another job holds the workers. For element-wise kernels,
    /// whose results do not depend on how the range is split. <paramref name="state"/> must stay valid until return.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryRunRanges(delegate*<void*, int, int, void> body, void* state, ReadOnlySpan<int> bounds)
    {
        if (SerialOnThisThread || !Monitor.TryEnter(s_gate)) return false;
        try
        {
            s_rangeBody = body;
            s_rangeState = state;
            return Dispatch(bounds);
        }
        finally
        {
            s_rangeBody = null;
            s_rangeState = null;
            Monitor.Exit(s_gate);
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/> on part t of the split (rows or columns bounds[t]..bounds[t+1]) for every t, in
    /// parallel, and returns after all have finished; false (nothing run) when another product holds the workers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryRun(in GemmProblem problem, delegate*<in GemmProblem, int, int, int, int, void> body, bool splitN, ReadOnlySpan<int> bounds)
    {
        if (SerialOnThisThread || !Monitor.TryEnter(s_gate)) return false;
        try
        {
            s_problem = problem;
            s_body = body;
            s_splitN = splitN;
            return Dispatch(bounds);
        }
        finally
        {
            Monitor.Exit(s_gate);
        }
    }

    /// <summary>Packs a generation and a part count (1..64) into one ticket.</summary>
    internal static long Ticket(long generation, int parts) => generation << 7 | (uint)parts;

    /// <summary>Publishes the job set up by the caller (who holds s_gate), runs part 0 here and waits for the rest.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool Dispatch(ReadOnlySpan<int> bounds)
    {
        int parts = bounds.Length - 1;
        EnsureWorkers(parts - 1);
        bounds.CopyTo(s_bounds);
        s_error = null;
        Volatile.Write(ref s_pending, parts - 1);
        // The exchange is a full fence: the job's fields above are visible to any worker that sees the new ticket, and
        // (paired with the fence in Worker before it re-reads the ticket) either the worker sees it or we see the
        // worker asleep and wake it.
        Interlocked.Exchange(ref s_ticket, Ticket((s_ticket >> 7) + 1, parts));
        if (Volatile.Read(ref s_sleeping) > 0)
            lock (s_sleep) Monitor.PulseAll(s_sleep);

        try
        {
            RunPart(0);
        }
        finally
        {
            // Even when part 0 throws: the workers still read this job, so it must not be replaced before they finish.
            var spinner = new SpinWait();
            while (Volatile.Read(ref s_pending) != 0) spinner.SpinOnce(sleep1Threshold: -1);
        }
        if (s_error is { } error) throw new AggregateException("A kernel worker thread failed.", error);
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunPart(int t)
    {
        int lo = s_bounds[t], hi = s_bounds[t + 1];
        if (s_rangeBody != null) s_rangeBody(s_rangeState, lo, hi);
        else if (s_splitN) s_body(s_problem, 0, s_problem.M, lo, hi);
        else s_body(s_problem, lo, hi, 0, s_problem.N);
    }

    private static void EnsureWorkers(int count)
    {
        if (s_workers.Length >= count) return;
        var workers = new Thread[count];
        s_workers.CopyTo(workers, 0);
        for (int w = s_workers.Length; w < count; w++)
        {
            int index = w;
            // Started while s_gate is held, before the next ticket is published: the current job is finished, so a
            // new worker starts from it and waits for the next.
            long seen = Volatile.Read(ref s_ticket) >> 7;
            workers[w] = new Thread(() => Worker(index, seen)) { IsBackground = true, Name = $"Cortex GEMM {index + 1}" };
            workers[w].Start();
        }
        s_workers = workers;
    }

    /// <summary>
    /// Worker <paramref name="index"/> runs part index + 1 of every job that has one, exactly once.
    /// </summary>
    /// <remarks>
    /// Why this is correct for any number of workers and any mix of part counts:
    /// (1) The worker decides from one load of the ticket: the generation g it names and whether g has part p. Reading
    /// the generation and the part count separately let a worker that had no part in g read the part count of g + 1,
    /// run g + 1's part, then see g + 1 as new and run it again — a double decrement that stalled the caller or, with the
    /// job's fields already replaced, ran a product on freed buffers.
    /// (2) If g has part p, the caller of g waits in Dispatch until p is counted, so while this worker runs, the ticket,
    /// bounds and body all still describe g; the worker counts p once and remembers g, so it never runs g again.
    /// (3) If g has no part p, the worker touches nothing of g's and only remembers g; the caller never waits for it.
    /// (4) Generations only grow, and g cannot be replaced while its part p is uncounted, so a worker with a part in g
    /// always finds g as the ticket's generation: spinning it sees it; asleep, it was woken (the fences around
    /// s_sleeping and the ticket: the worker counts itself asleep before it re-reads the ticket, the caller publishes
    /// before it reads the count).
    /// </remarks>
    // Fully optimised from the first call: the worker loop is entered once and would otherwise run tier-0 code
    // until on-stack replacement, making the hand-off latency (and so epoch times) vary from run to run.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Worker(int index, long seen)
    {
        int part = index + 1;
        while (true)
        {
            long spinUntil = Stopwatch.GetTimestamp() + SpinTicks;
            var spinner = new SpinWait();
            long ticket;
            while ((ticket = Volatile.Read(ref s_ticket)) >> 7 == seen)
            {
                if (Stopwatch.GetTimestamp() < spinUntil)
                {
                    spinner.SpinOnce(sleep1Threshold: -1);
                    continue;
                }
                lock (s_sleep)
                {
                    Interlocked.Increment(ref s_sleeping);
                    while (Volatile.Read(ref s_ticket) >> 7 == seen) Monitor.Wait(s_sleep);
                    Interlocked.Decrement(ref s_sleeping);
                }
            }
            seen = ticket >> 7;
            if (part >= (int)(ticket & 127)) continue;
            try
            {
                RunPart(part);
            }
            catch (Exception e)
            {
                s_error = e;
            }
            Interlocked.Decrement(ref s_pending);
        }
    }
}
