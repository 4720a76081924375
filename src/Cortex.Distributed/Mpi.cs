using System.Runtime.InteropServices;

namespace Cortex.Distributed;

/// <summary>
/// The few MPI calls data-parallel training needs, bound to Open MPI's <c>libmpi.so.40</c> (Debian's <c>openmpi-bin</c>
/// brings it) through function pointers. Why not the NuGet package MPI.NET 1.4.0: it binds MS-MPI (<c>msmpi.dll</c>),
/// whose handles are integers, while Open MPI's are pointers to exported globals (<c>MPI_COMM_WORLD</c> is
/// <c>&amp;ompi_mpi_comm_world</c>), so even with the library name redirected it crashes in its first call.
/// </summary>
internal static unsafe class Mpi
{
    public const int ThreadMultiple = 3; // Open MPI's MPI_THREAD_MULTIPLE
    private const int RtldNow = 2, RtldGlobal = 0x100;

    public static readonly nint Library;
    public static readonly nint CommWorld, Float, Sum, Max;
    private static readonly nint InPlace = 1; // Open MPI's MPI_IN_PLACE

    private static readonly delegate* unmanaged<int*, nint, int, int*, int> initThread;
    private static readonly delegate* unmanaged<int*, int> initialized, finalized;
    private static readonly delegate* unmanaged<int> finalize;
    private static readonly delegate* unmanaged<nint, int*, int> commRank, commSize;
    private static readonly delegate* unmanaged<nint, void*, int, nint, nint, nint, int> allreduce;
    private static readonly delegate* unmanaged<void*, int, nint, int, nint, int> bcast;
    private static readonly delegate* unmanaged<nint, int> barrier;
    private static readonly delegate* unmanaged<nint, int, int> abort;

    [DllImport("libc", EntryPoint = "dlopen")]
    private static extern nint DlOpen(string file, int mode);

    static Mpi()
    {
        // RTLD_GLOBAL: Open MPI loads its transport plug-ins with dlopen, and they look up libmpi's symbols globally.
        foreach (string name in (string[])["libmpi.so.40", "libmpi.so"])
            if ((Library = DlOpen(name, RtldNow | RtldGlobal)) != 0) break;
        if (Library == 0)
            throw new DllNotFoundException("Cortex.Distributed needs Open MPI's libmpi.so.40, which was not found. Install it: apt-get install openmpi-bin (Debian/Ubuntu), or put Open MPI's lib directory on LD_LIBRARY_PATH.");
        if (!NativeLibrary.TryGetExport(Library, "ompi_mpi_comm_world", out CommWorld))
            throw new DllNotFoundException("Cortex.Distributed binds Open MPI (4.x), but the libmpi found is another MPI (no ompi_mpi_comm_world): put Open MPI's libmpi.so.40 first on LD_LIBRARY_PATH.");
        Float = NativeLibrary.GetExport(Library, "ompi_mpi_float");
        Sum = NativeLibrary.GetExport(Library, "ompi_mpi_op_sum");
        Max = NativeLibrary.GetExport(Library, "ompi_mpi_op_max");
        initThread = (delegate* unmanaged<int*, nint, int, int*, int>)Get("MPI_Init_thread");
        initialized = (delegate* unmanaged<int*, int>)Get("MPI_Initialized");
        finalized = (delegate* unmanaged<int*, int>)Get("MPI_Finalized");
        finalize = (delegate* unmanaged<int>)Get("MPI_Finalize");
        commRank = (delegate* unmanaged<nint, int*, int>)Get("MPI_Comm_rank");
        commSize = (delegate* unmanaged<nint, int*, int>)Get("MPI_Comm_size");
        allreduce = (delegate* unmanaged<nint, void*, int, nint, nint, nint, int>)Get("MPI_Allreduce");
        bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Get("MPI_Bcast");
        barrier = (delegate* unmanaged<nint, int>)Get("MPI_Barrier");
        abort = (delegate* unmanaged<nint, int, int>)Get("MPI_Abort");
    }

    private static nint Get(string name) => NativeLibrary.GetExport(Library, name);

    private static void Check(int code, string call)
    {
        // Open MPI's default error handler (MPI_ERRORS_ARE_FATAL) aborts the job before a failing call returns;
        // this covers a communicator set to return errors.
        if (code != 0) throw new InvalidOperationException($"{call} failed with MPI error code {code}.");
    }

    /// <summary>MPI_Init_thread with no arguments; returns the thread level provided.</summary>
    public static int InitThread(int required)
    {
        int provided;
        Check(initThread(null, 0, required, &provided), "MPI_Init_thread");
        return provided;
    }

    public static bool Initialized { get { int f; Check(initialized(&f), "MPI_Initialized"); return f != 0; } }

    public static bool Finalized { get { int f; Check(finalized(&f), "MPI_Finalized"); return f != 0; } }

    public static void FinalizeMpi() => Check(finalize(), "MPI_Finalize");

    public static int Rank { get { int r; Check(commRank(CommWorld, &r), "MPI_Comm_rank"); return r; } }

    public static int Size { get { int s; Check(commSize(CommWorld, &s), "MPI_Comm_size"); return s; } }

    /// <summary>MPI_Allreduce in place on MPI_COMM_WORLD over floats with <paramref name="op"/> (<see cref="Sum"/> or <see cref="Max"/>).</summary>
    public static void AllReduce(Span<float> values, nint op)
    {
        fixed (float* p = values) Check(allreduce(InPlace, p, values.Length, Float, op, CommWorld), "MPI_Allreduce");
    }

    public static void Bcast(Span<float> values, int root)
    {
        fixed (float* p = values) Check(bcast(p, values.Length, Float, root, CommWorld), "MPI_Bcast");
    }

    public static void Barrier() => Check(barrier(CommWorld), "MPI_Barrier");

    public static void Abort(int errorCode) => abort(CommWorld, errorCode);
}
