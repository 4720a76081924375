using System.Diagnostics;
using System.Globalization;
using Cortex.Data;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Bench;

/// <summary>
/// A user's first run: in this fresh process, the first Fit epoch (JIT and tiering included; no warm-up here beyond
/// the library's own, which compiles in the background while the data loads — see <see cref="WarmUp"/>) of one of
/// <see cref="TrainBench.Cases"/>' networks on Fashion-MNIST at that case's batch size, then a second epoch, then the
/// first single-sample Predict. --filter names the network (a <see cref="Zoo"/> name, default digits_mlp); --rows
/// trains on the first N rows only (a smoke check). bench/run.sh cold runs it in new processes, beside
/// bench/cold_ref.py (PyTorch, the same measures), and optionally under .NET's tiering defaults (the environment
/// variables DOTNET_TieredPGO=1 and DOTNET_TC_CallCountingDelayMs=100 restore those) to show what the package's
/// runtime settings buy. It also prints what the first Fit cost the JIT (<see cref="System.Runtime.JitInfo"/>: seconds
/// across all threads and methods compiled) and how many gen-0 collections it ran.
/// </summary>
internal static class ColdBench
{
    public static int Run(Options options)
    {
        string network = options.Filter.Length > 0 ? options.Filter : "digits_mlp"; // 784-25-15-10
        var (name, _, batch) = TrainBench.Cases().FirstOrDefault(c => c.Model == network);
        if (name is null)
        {
            Console.Error.WriteLine($"cold: --filter takes a network of the train cases ({string.Join(", ", TrainBench.Cases().Select(c => c.Model))}). Received: '{network}'.");
            return 2;
        }
        // Loading is timed apart: a user's first epoch starts once the data is in memory.
        var clock = Stopwatch.StartNew();
        var (x, y, _, _) = TrainBench.Shaped(name, TrainBench.Rows(Datasets.FashionMnist.Load(), options.Rows));
        double load = clock.Elapsed.TotalSeconds;
        CortexRandom.SetGlobalSeed(1);
        var model = Zoo.Create(network);
        model.Compile(new Adam(1e-3f), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        var jit0 = System.Runtime.JitInfo.GetCompilationTime();
        long methods0 = System.Runtime.JitInfo.GetCompiledMethodCount();
        long gc0 = GC.CollectionCount(0);
        clock.Restart();
        model.Fit(x, y, epochs: 1, batchSize: batch, verbose: 0);
        double first = clock.Elapsed.TotalSeconds;
        double firstJit = (System.Runtime.JitInfo.GetCompilationTime() - jit0).TotalSeconds;
        long firstMethods = System.Runtime.JitInfo.GetCompiledMethodCount() - methods0;
        long firstGcs = GC.CollectionCount(0) - gc0;
        // What the background warm-up (Cortex.WarmUp, off under CORTEX_WARMUP=0) finished before the first Fit stopped it.
        int warmUpPhases = WarmUp.Finished.Count;
        double warmUpSeconds = WarmUp.Elapsed.TotalSeconds;
        clock.Restart();
        model.Fit(x, y, epochs: 1, batchSize: batch, verbose: 0);
        double second = clock.Elapsed.TotalSeconds;
        var one = x.Slice(0, 1);
        clock.Restart();
        model.Predict(one);
        double predict = clock.Elapsed.TotalMilliseconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"network\": \"{network}\", \"batch\": {batch}, \"rows\": {x.Shape[0]}, \"load_s\": {load:F3}, \"first_epoch_s\": {first:F3}, \"second_epoch_s\": {second:F3}, \"first_predict_ms\": {predict:F2}, \"first_epoch_jit_s\": {firstJit:F3}, \"first_epoch_methods\": {firstMethods}, \"first_epoch_gcs\": {firstGcs}, \"warm_up_phases\": {warmUpPhases}, \"warm_up_s\": {warmUpSeconds:F3}}}"));
        return 0;
    }
}
