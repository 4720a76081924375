using System.Diagnostics;

namespace Cortex.Fuzz;

/// <summary>What a run of <see cref="Campaign.Run"/> did: executions, time, and the first input that broke a promise.</summary>
/// <param name="Executions">Inputs run, seeds included.</param>
/// <param name="Elapsed">Wall-clock time of the run.</param>
/// <param name="Failure">The first failing input and what it raised, or null.</param>
/// <param name="Slowest">The longest single execution.</param>
public sealed record CampaignResult(long Executions, TimeSpan Elapsed, (byte[] Input, Exception Error)? Failure, TimeSpan Slowest);

/// <summary>
/// In-process fuzzing without a native fuzzer: every seed, then deterministic mutations (<see cref="Mutator"/>) until
/// an execution count or a time budget is reached, stopping at the first broken promise. The smoke tests run it for a
/// few seconds per format; <c>Cortex.Fuzz mutate</c> runs it for as long as asked.
/// </summary>
public static class Campaign
{
    /// <summary>Runs <paramref name="target"/> over <paramref name="seeds"/> and mutations of them.</summary>
    /// <param name="target">A target from <see cref="Targets.All"/>.</param>
    /// <param name="seeds">The seed corpus (at least one input).</param>
    /// <param name="executions">The most inputs to run.</param>
    /// <param name="budget">The most time to spend; the run stops after the execution that passes it.</param>
    /// <param name="seed">The mutator's random seed: the same seed gives the same inputs.</param>
    public static CampaignResult Run(Action<byte[]> target, IReadOnlyList<byte[]> seeds, long executions, TimeSpan budget, int seed = 1)
    {
        var mutator = new Mutator(seeds, seed);
        var clock = Stopwatch.StartNew();
        TimeSpan slowest = TimeSpan.Zero;
        long done = 0;
        while (done < executions && (done < seeds.Count || clock.Elapsed < budget))
        {
            byte[] input = done < seeds.Count ? seeds[(int)done] : mutator.Next();
            var start = clock.Elapsed;
            try { target(input); }
            catch (Exception e) { return new CampaignResult(done + 1, clock.Elapsed, (input, e), slowest); }
            done++;
            var took = clock.Elapsed - start;
            if (took > slowest) slowest = took;
        }
        return new CampaignResult(done, clock.Elapsed, null, slowest);
    }

    /// <summary>The files of a corpus folder, in name order (so that runs are reproducible).</summary>
    public static List<byte[]> ReadCorpus(string dir) =>
        [.. Directory.GetFiles(dir).Order(StringComparer.Ordinal).Select(File.ReadAllBytes)];
}
