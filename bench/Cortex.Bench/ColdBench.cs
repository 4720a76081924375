using System.Diagnostics;
using System.Globalization;
using Cortex.Data;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Bench;

/// <summary>
/// A user's first run: in this fresh process, the first Fit epoch (no warm-up: JIT and tiering included) of a
/// Zoo MLP on Fashion-MNIST, then a second epoch, then the first single-sample Predict. bench/run.sh cold runs it in
/// new processes under the package's runtime settings and under .NET's defaults (the environment variables
/// DOTNET_TieredPGO=1 and DOTNET_TC_CallCountingDelayMs=100 restore those), so the table shows what the settings buy.
/// </summary>
internal static class ColdBench
{
    public static void Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        var (x, y, _, _) = Datasets.FashionMnist.Load();
        double load = clock.Elapsed.TotalSeconds;
        string network = options.Filter.Length > 0 ? options.Filter : "digits_mlp"; // 784-25-15-10
        CortexRandom.SetGlobalSeed(1);
        var model = Zoo.Create(network);
        model.Compile(new Adam(1e-3f), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        clock.Restart();
        model.Fit(x, y, epochs: 1, batchSize: 32, verbose: 0);
        double first = clock.Elapsed.TotalSeconds;
        clock.Restart();
        model.Fit(x, y, epochs: 1, batchSize: 32, verbose: 0);
        double second = clock.Elapsed.TotalSeconds;
        var one = x.Slice(0, 1);
        clock.Restart();
        model.Predict(one);
        double predict = clock.Elapsed.TotalMilliseconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"network\": \"{network}\", \"load_s\": {load:F3}, \"first_epoch_s\": {first:F3}, \"second_epoch_s\": {second:F3}, \"first_predict_ms\": {predict:F2}}}"));
    }
}
