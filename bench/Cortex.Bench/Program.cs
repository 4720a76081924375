using System.Diagnostics;
using System.Globalization;
using Cortex.Kernels;

namespace Cortex.Bench;

/// <summary>
/// Side-by-side benchmarks; bench/run.sh runs a mode here and its Python counterpart and joins the two.
/// Usage: Cortex.Bench &lt;mode&gt; [--threads N] [--min-time SECONDS] [--filter TEXT] [--seeds N] [--rows N]
/// Each mode prints one JSON object per case, so the scripts can join on "case".
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length == 0) return Usage();
        var options = Options.Parse(args.AsSpan(1));
        if (options is null) return Usage();
        switch (args[0])
        {
            case "gemm":
                GemmBench.Run(options);
                return 0;
            case "train":
                TrainBench.Run(options);
                return 0;
            case "samestart":
                TrainBench.RunSameStart(options);
                return 0;
            case "elementwise":
                ElementwiseBench.Run(options);
                return 0;
            case "infer":
                InferBench.Run(options);
                return 0;
            case "isa":
                IsaReport();
                return 0;
            case "cold":
                return ColdBench.Run(options);
            default:
                Console.Error.WriteLine($"Unknown mode '{args[0]}'.");
                return Usage();
        }
    }

    private static int Usage()
    {
        Console.Error.WriteLine("Usage: Cortex.Bench <mode> [--threads N] [--min-time SECONDS] [--filter TEXT] [--seeds N] [--rows N]");
        Console.Error.WriteLine("Modes: gemm, elementwise, train, samestart (--start-dir DIR), infer, isa, cold (--filter NETWORK)");
        return 2;
    }

    /// <summary>
    /// One JSON line saying which vector width this process runs (bench/run.sh prints it over each ISA's tables): the
    /// GEMM kernel, what the JIT accelerates, and the runtime settings that narrowed it.
    /// </summary>
    private static void IsaReport()
    {
        static string Flag(bool value) => value ? "true" : "false";
        string settings = string.Join(", ", new[] { "DOTNET_EnableAVX512", "DOTNET_EnableAVX2", "DOTNET_EnableAVX512F", "DOTNET_PreferredVectorBitWidth" }
            .Where(name => Environment.GetEnvironmentVariable(name) is not null)
            .Select(name => $"\"{name}\": \"{Environment.GetEnvironmentVariable(name)}\""));
        Console.WriteLine($"{{\"kernel\": \"{Gemm.ActiveKernel}\", \"vector512\": {Flag(System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)}, " +
            $"\"vector256\": {Flag(System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)}, \"vector128\": {Flag(System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated)}, " +
            $"\"fma\": {Flag(System.Runtime.Intrinsics.X86.Fma.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported)}, " +
            $"\"runtime\": \"{Environment.Version}\", \"settings\": {{{settings}}}}}");
    }
}

/// <summary>Command-line options shared by every mode.</summary>
internal sealed class Options
{
    /// <summary>Thread cap handed to the kernels (default: all cores).</summary>
    public int Threads { get; private set; } = Environment.ProcessorCount;
    /// <summary>Seconds of timed calls per case, split over 5 rounds of which the best counts.</summary>
    public double MinTime { get; private set; } = 0.3;
    /// <summary>Only cases whose name contains this text.</summary>
    public string Filter { get; private set; } = "";
    /// <summary>Train mode: seeds (1..N) whose one-epoch test accuracies are averaged for each MLP case.</summary>
    public int Seeds { get; private set; } = 10;
    /// <summary>Train mode: where each MLP case writes its seeds' initial weights and row orders and trains from them
    /// (bench/train_ref.py --start-dir trains PyTorch from the same files); null: no like-for-like run.</summary>
    public string? StartDir { get; private set; }
    /// <summary>Train and cold modes: only the first N training and test rows (0: all), for a quick end-to-end check of
    /// a case; its times and accuracies are not the benchmark's.</summary>
    public int Rows { get; private set; }

    public static Options? Parse(ReadOnlySpan<string> args)
    {
        var o = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            string? value = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i])
            {
                case "--threads" when value != null: o.Threads = int.Parse(value, CultureInfo.InvariantCulture); i++; break;
                case "--min-time" when value != null: o.MinTime = double.Parse(value, CultureInfo.InvariantCulture); i++; break;
                case "--filter" when value != null: o.Filter = value; i++; break;
                case "--seeds" when value != null: o.Seeds = int.Parse(value, CultureInfo.InvariantCulture); i++; break;
                case "--start-dir" when value != null: o.StartDir = value; i++; break;
                case "--rows" when value != null: o.Rows = int.Parse(value, CultureInfo.InvariantCulture); i++; break;
                default: Console.Error.WriteLine($"Unknown or incomplete option '{args[i]}'."); return null;
            }
        }
        return o;
    }

    /// <summary>Best seconds per call of <paramref name="call"/>: a warm-up long enough for tiered JIT to finish, then
    /// 5 rounds of at least MinTime/5 each. Best-of rather than median because on a shared machine noise only slows.</summary>
    /// <summary>Best seconds per call of each of <paramref name="calls"/>, timed in alternating rounds (10 rounds of at
    /// least MinTime/5 per call each, after each call's warm-up, each round begun after a pause and one untimed call): a comparison within one process whose sides each see
    /// the machine's calm and slow spells, rather than one side the first and the other the second.</summary>
    public double[] TimeBestInterleaved(IReadOnlyList<Action> calls)
    {
        foreach (var call in calls)
        {
            var warm = Stopwatch.StartNew();
            while (warm.Elapsed.TotalSeconds < 0.1) call();
        }
        var best = new double[calls.Count];
        Array.Fill(best, double.MaxValue);
        for (int round = 0; round < 10; round++)
            for (int c = 0; c < calls.Count; c++)
            {
                // Each library's worker threads spin for a while after a call (Cortex's 0.2 ms, ONNX Runtime's longer)
                // and on a 2-core machine a spinning pool of one side takes a core from the other: let them park, then
                // one untimed call wakes this side's own.
                Thread.Sleep(30);
                calls[c]();
                long count = 0;
                var sw = Stopwatch.StartNew();
                do { calls[c](); count++; } while (sw.Elapsed.TotalSeconds < MinTime / 5);
                best[c] = Math.Min(best[c], sw.Elapsed.TotalSeconds / count);
            }
        return best;
    }

    public double TimeBest(Action call)
    {
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < 0.1) call();
        double best = double.MaxValue;
        for (int round = 0; round < 5; round++)
        {
            long calls = 0;
            var sw = Stopwatch.StartNew();
            do { call(); calls++; } while (sw.Elapsed.TotalSeconds < MinTime / 5);
            best = Math.Min(best, sw.Elapsed.TotalSeconds / calls);
        }
        return best;
    }
}

/// <summary>
/// SGEMM throughput of <see cref="Gemm.Sgemm(bool, bool, int, int, int, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, Span{float}, int, bool)"/>
/// on square sizes and on the products of training an MLP on MNIST (batch 32 and 128): each forward X·W with its two
/// backward products dX = dY·Wᵀ (transB) and dW = Xᵀ·dY (transA). The cases must match bench/gemm_ref.py.
/// </summary>
internal static class GemmBench
{
    /// <summary>(name, transA, transB, M, K, N): op(A) is M×K, op(B) is K×N.</summary>
    public static IEnumerable<(string Name, bool TransA, bool TransB, int M, int K, int N)> Cases()
    {
        foreach (int s in new[] { 128, 256, 512, 1024, 2048 })
            yield return ($"square {s}", false, false, s, s, s);
        foreach (var (m, k, n) in new[] { (32, 784, 128), (32, 128, 10), (128, 784, 512) })
        {
            yield return ($"fwd {m}x{k}x{n}", false, false, m, k, n);
            yield return ($"dX {m}x{n}x{k} tB", false, true, m, n, k);
            yield return ($"dW {k}x{m}x{n} tA", true, false, k, m, n);
        }
        // The Fashion CNN's second convolution at batch 64 (patches × 3·3·32 → 64): one block of rows, and the batch.
        foreach (var (m, k, n) in new[] { (480, 288, 64), (7744, 288, 64) })
        {
            yield return ($"conv fwd {m}x{k}x{n}", false, false, m, k, n);
            yield return ($"conv dX {m}x{n}x{k} tB", false, true, m, n, k);
            yield return ($"conv dW {k}x{m}x{n} tA", true, false, k, m, n);
        }
    }

    public static void Run(Options options)
    {
        var random = new Random(1);
        var selected = new List<(string Name, bool TransA, bool TransB, int M, int K, int N, Action Call)>();
        foreach (var (name, transA, transB, m, k, n) in Cases())
        {
            if (!name.Contains(options.Filter, StringComparison.Ordinal)) continue;
            float[] a = Uniform(m * k, random), b = Uniform(k * n, random), c = new float[m * n];
            int lda = transA ? m : k, ldb = transB ? k : n;
            int threads = options.Threads;
            selected.Add((name, transA, transB, m, k, n, () => Gemm.Sgemm(transA, transB, m, n, k, a, lda, b, ldb, c, n, false, GemmKernel.Auto, threads)));
        }
        // Every code path (kernel variants, packing paths, the worker threads) gets hot and tiered up before the first
        // measurement; otherwise the first case pays for JIT tiers that later cases get for free.
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < 0.6)
            foreach (var (_, _, _, _, _, _, call) in selected) call();
        foreach (var (name, transA, transB, m, k, n, call) in selected)
        {
            int threads = options.Threads;
            double seconds = options.TimeBest(call);
            double gflops = 2.0 * m * n * k / seconds / 1e9;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"case\": \"{name}\", \"m\": {m}, \"k\": {k}, \"n\": {n}, \"transA\": {(transA ? "true" : "false")}, \"transB\": {(transB ? "true" : "false")}, \"gflops\": {gflops:F2}, \"us\": {seconds * 1e6:F3}, \"threads\": {threads}}}"));
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"kernel\": \"{Gemm.ActiveKernel}\", \"cores\": {Environment.ProcessorCount}, \"runtime\": \"{Environment.Version}\"}}"));
    }

    private static float[] Uniform(int count, Random random)
    {
        var x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (float)(random.NextDouble() * 2 - 1);
        return x;
    }
}
