using System.Diagnostics;
using System.Globalization;
using Cortex.Models;

namespace Cortex.Distributed;

/// <summary>
/// Data-parallel training on MPI: one process per rank, each holding a replica of the model, the gradients summed
/// with <c>MPI_Allreduce</c> before every update (as Horovod and PyTorch's DistributedDataParallel do). Start the
/// program under <c>mpirun</c>; run alone, it is one rank of one.
/// </summary>
/// <remarks>
/// <para>Faults: when a rank dies, Open MPI's <c>mpirun</c> ends the whole job and names it ("process rank 1 … exited
/// on signal 9"). A rank that hangs instead, or a network that stops answering, is caught by a watchdog: a collective
/// that waits longer than <see cref="CollectiveTimeout"/> prints which rank waited, in which call, and aborts the job
/// with <c>MPI_Abort</c>, so no run hangs silently.</para>
/// <para>Requires Open MPI 4 (<c>libmpi.so.40</c>, Debian's <c>openmpi-bin</c>).</para>
/// </remarks>
/// <example>
/// <code>
/// using var dist = MpiDataParallel.Initialize();
/// CortexRandom.SetGlobalSeed(1);                 // the same initial weights on every rank
/// var model = new Sequential(new Dense(64, "relu"), new Dense(10));
/// model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
/// model.Fit(x, y, dist, epochs: 3, batchSize: 64);
/// // mpirun -np 2 dotnet app.dll
/// </code>
/// </example>
public sealed class MpiDataParallel : DistributionStrategy, IDisposable
{
    /// <summary>The exit code of a job the watchdog aborts.</summary>
    public const int TimeoutExitCode = 75;

    private static MpiDataParallel? current;
    private readonly int rank, size;
    private readonly bool canAbortFromWatchdog;
    private readonly Thread? watchdog;
    private long waitingSince; // Stopwatch ticks when the running collective began; 0 when none runs
    private string waitingIn = "";
    private volatile bool disposed;

    private MpiDataParallel(TimeSpan timeout)
    {
        if (!Mpi.Initialized)
            canAbortFromWatchdog = Mpi.InitThread(Mpi.ThreadMultiple) >= Mpi.ThreadMultiple;
        rank = Mpi.Rank;
        size = Mpi.Size;
        CollectiveTimeout = timeout;
        if (timeout > TimeSpan.Zero)
        {
            watchdog = new Thread(Watch) { IsBackground = true, Name = "Cortex.Distributed watchdog" };
            watchdog.Start();
        }
    }

    /// <summary>
    /// Initialises MPI (once per process; later calls return the same object) and joins the job <c>mpirun</c> started.
    /// </summary>
    /// <param name="collectiveTimeout">How long a collective may wait for the other ranks before the job is aborted
    /// (default 30 s, or the seconds in the environment variable <c>CORTEX_MPI_TIMEOUT</c>; zero or less: no watchdog).
    /// It must exceed the longest time one rank works alone between two steps (rank 0 writing a checkpoint).</param>
    /// <exception cref="DllNotFoundException">Open MPI's <c>libmpi.so.40</c> is not installed.</exception>
    public static MpiDataParallel Initialize(TimeSpan? collectiveTimeout = null)
    {
        if (current is { disposed: false }) return current;
        if (current != null) throw new InvalidOperationException("MpiDataParallel: MPI was finalized by Dispose and cannot be initialised again in this process.");
        var timeout = collectiveTimeout
            ?? (double.TryParse(Environment.GetEnvironmentVariable("CORTEX_MPI_TIMEOUT"), NumberStyles.Float, CultureInfo.InvariantCulture, out double s)
                ? TimeSpan.FromSeconds(s) : TimeSpan.FromSeconds(30));
        return current = new MpiDataParallel(timeout);
    }

    /// <summary>Whether this process was started by Open MPI's <c>mpirun</c> (it sets <c>OMPI_COMM_WORLD_SIZE</c>).</summary>
    public static bool LaunchedByMpirun => Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") != null;

    /// <inheritdoc/>
    public override int Rank => rank;

    /// <inheritdoc/>
    public override int WorldSize => size;

    /// <summary>How long a collective may wait for the other ranks before the watchdog aborts the job (zero: never).</summary>
    public TimeSpan CollectiveTimeout { get; }

    /// <inheritdoc/>
    public override void AllReduceSum(Span<float> values)
    {
        if (size == 1) return;
        Begin("MPI_Allreduce(sum)");
        Mpi.AllReduce(values, Mpi.Sum);
        End();
    }

    /// <inheritdoc/>
    public override void AllReduceMax(Span<float> values)
    {
        if (size == 1) return;
        Begin("MPI_Allreduce(max)");
        Mpi.AllReduce(values, Mpi.Max);
        End();
    }

    /// <inheritdoc/>
    public override void Broadcast(Span<float> values, int root)
    {
        if (size == 1) return;
        Begin("MPI_Bcast");
        Mpi.Bcast(values, root);
        End();
    }

    /// <summary>Waits until every rank has called it.</summary>
    public void Barrier()
    {
        Begin("MPI_Barrier");
        Mpi.Barrier();
        End();
    }

    /// <summary>Ends every rank of the job with <paramref name="errorCode"/> (MPI_Abort).</summary>
    public void Abort(int errorCode) => Mpi.Abort(errorCode);

    private void Begin(string call)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        waitingIn = call;
        Volatile.Write(ref waitingSince, Stopwatch.GetTimestamp());
    }

    private void End() => Volatile.Write(ref waitingSince, 0);

    private void Watch()
    {
        var poll = TimeSpan.FromMilliseconds(Math.Clamp(CollectiveTimeout.TotalMilliseconds / 10, 50, 1000));
        while (!disposed)
        {
            Thread.Sleep(poll);
            long since = Volatile.Read(ref waitingSince);
            if (since == 0 || Stopwatch.GetElapsedTime(since) < CollectiveTimeout) continue;
            Console.Error.WriteLine($"Cortex.Distributed: rank {rank} of {size} waited more than {CollectiveTimeout.TotalSeconds:0.#} s in {waitingIn} for the other ranks: " +
                "another rank has died or hangs (when one died, mpirun names it). Aborting the job.");
            Console.Error.Flush();
            if (canAbortFromWatchdog) Mpi.Abort(TimeoutExitCode);
            Environment.Exit(TimeoutExitCode);
        }
    }

    /// <summary>Finalizes MPI (every rank must call it; <c>using var</c> does). The process cannot use MPI afterwards.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        if (!Mpi.Finalized) Mpi.FinalizeMpi();
    }
}
