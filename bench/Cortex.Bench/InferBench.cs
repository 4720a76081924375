using System.Globalization;
using Cortex.Models;
using Cortex.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Cortex.Bench;

/// <summary>
/// Inference against ONNX Runtime in one process, on the very model Cortex exported (Cortex.Onnx): for each Zoo model
/// and batch size, the best time per call of Cortex's <c>Predict</c> and of ONNX Runtime's <c>Run</c> (OrtValue API,
/// input memory pinned once, sequential execution, the better of 1 and --threads intra-op threads), and how far apart
/// their outputs are (the largest difference over the largest output). The three are timed in alternating rounds, so
/// that a slow spell of the VM reaches each of them alike.
/// </summary>
internal static class InferBench
{
    public static IEnumerable<(string Name, string Model, int[] Sample, int Batch)> Cases()
    {
        foreach (int batch in new[] { 1, 1000 })
        {
            yield return ($"mlp 784-128-10 b{batch}", "mlp_784_128_10", [784], batch);
            yield return ($"cnn conv32-pool-conv64-pool-10 b{batch}", "fashion_cnn", [28, 28, 1], batch);
            yield return ($"lstm128-10 rows b{batch}", "fashion_lstm", [28, 28], batch);
        }
    }

    public static void Run(Options options)
    {
        foreach (var (name, network, sample, batch) in Cases())
        {
            if (!name.Contains(options.Filter, StringComparison.Ordinal)) continue;
            CortexRandom.SetGlobalSeed(1);
            var model = Zoo.Create(network);
            var x = Tensor.RandomUniform([batch, .. sample], seed: 2);
            byte[] onnx;
            try { onnx = OnnxExporter.ToBytes(model); }
            catch (NotSupportedException e)
            {
                Console.WriteLine($"{{\"case\": \"{name}\", \"skipped\": \"{e.Message.Replace("\"", "'")}\"}}");
                continue;
            }
            // ONNX Runtime at 1 and at --threads intra-op threads, its better time counting (the issue's "best of 1 and
            // 2"): one thread often wins on a single sample, where waking a second costs more than it saves.
            int[] ortThreads = options.Threads > 1 ? [1, options.Threads] : [1];
            var sessions = ortThreads.Select(t => new InferenceSession(onnx,
                new SessionOptions { IntraOpNumThreads = t, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL })).ToArray();
            float[] input = x.ToArray();
            using var ortInput = OrtValue.CreateTensorValueFromMemory(input, [.. x.Shape.Select(d => (long)d)]);
            using var runOptions = new RunOptions();
            string[] inputNames = ["input"], outputNames = ["output"];
            float[] ortOut;
            using (var first = sessions[0].Run(runOptions, inputNames, [ortInput], outputNames)) ortOut = first[0].GetTensorDataAsSpan<float>().ToArray();
            float[] cortexOut = model.Predict(x, batchSize: batch).ToArray();
            // The largest difference relative to the outputs' scale (an element near 0 would make a per-element ratio meaningless).
            double scale = cortexOut.Max(v => Math.Abs(v)), maxRel = cortexOut.Zip(ortOut, (a, b) => Math.Abs(a - b)).Max() / Math.Max(scale, 1e-30);
            var calls = new List<Action> { () => model.Predict(x, batchSize: batch) };
            foreach (var session in sessions)
                calls.Add(() =>
                {
                    using var r = session.Run(runOptions, inputNames, [ortInput], outputNames);
                });
            double[] best = options.TimeBestInterleaved(calls);
            foreach (var session in sessions) session.Dispose();
            double cortex = best[0];
            int bestOrt = Array.IndexOf(best, best.Skip(1).Min(), 1);
            double ort = best[bestOrt];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"case\": \"{name}\", \"cortex_us\": {cortex * 1e6:F1}, \"ort_us\": {ort * 1e6:F1}, \"ort_threads\": {ortThreads[bestOrt - 1]}, \"ratio\": {cortex / ort:F2}, \"max_rel_diff\": {maxRel:E1}}}"));
        }
    }
}
