namespace Cortex.Tests;

/// <summary>
/// Tests that must not share the machine with other tests: those that count this thread's allocations, and those that
/// compare a run on the worker threads with one on this thread alone. When another test's product holds the GEMM
/// workers, a step runs that product on its own thread instead — whose scratch then grows once to the whole product's
/// size (a one-time growth, not per-step garbage, but it would land inside the measured steps), and whose "two-core"
/// run would silently be a one-core run.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunsAlone
{
    public const string Name = "runs alone";
}
