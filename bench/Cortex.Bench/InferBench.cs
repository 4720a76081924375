using System.Globalization;
using Cortex.Models;
using Cortex.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Cortex.Bench;

/// <summary>
/// Inference against ONNX Runtime in one process, on the very model Cortex exported (Cortex.Onnx): for each Zoo model
/// and batch size, the best time per call of Cortex's <c>Predict</c> and of ONNX Runtime's <c>Run</c> (OrtValue API,
/// input memory pinned once, sequential execution, intra-op threads = --threads), and how far apart their outputs are (the largest difference over the largest output).
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
            using var sessionOptions = new SessionOptions { IntraOpNumThreads = options.Threads, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
            using var session = new InferenceSession(onnx, sessionOptions);
            float[] input = x.ToArray();
            using var ortInput = OrtValue.CreateTensorValueFromMemory(input, [.. x.Shape.Select(d => (long)d)]);
            using var runOptions = new RunOptions();
            string[] inputNames = ["input"], outputNames = ["output"];
            float[] ortOut;
            using (var first = session.Run(runOptions, inputNames, [ortInput], outputNames)) ortOut = first[0].GetTensorDataAsSpan<float>().ToArray();
            float[] cortexOut = model.Predict(x, batchSize: batch).ToArray();
            // The largest difference relative to the outputs' scale (an element near 0 would make a per-element ratio meaningless).
            double scale = cortexOut.Max(v => Math.Abs(v)), maxRel = cortexOut.Zip(ortOut, (a, b) => Math.Abs(a - b)).Max() / Math.Max(scale, 1e-30);
            double cortex = options.TimeBest(() => model.Predict(x, batchSize: batch));
            double ort = options.TimeBest(() =>
            {
                using var r = session.Run(runOptions, inputNames, [ortInput], outputNames);
            });
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"case\": \"{name}\", \"cortex_us\": {cortex * 1e6:F1}, \"ort_us\": {ort * 1e6:F1}, \"ratio\": {cortex / ort:F2}, \"max_rel_diff\": {maxRel:E1}}}"));
        }
    }
}
