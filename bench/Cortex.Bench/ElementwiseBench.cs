using System.Globalization;
using System.Numerics.Tensors;

namespace Cortex.Bench;

/// <summary>
/// Tensor-level element-wise ops and reductions against the raw TensorPrimitives span call they are built on, in the
/// same process: on 1M floats the ratio says what the tensor layer (output allocation, shape checks, dispatch) costs;
/// on a 32×10 tensor the difference is the fixed per-op overhead.
/// </summary>
internal static class ElementwiseBench
{
    public static void Run(Options options)
    {
        foreach (var (rows, cols) in new[] { (1000, 1000), (32, 10) })
        {
            int n = rows * cols;
            var a = Tensor.RandomNormal([rows, cols], seed: 1);
            var b = Tensor.RandomNormal([rows, cols], seed: 2);
            var bias = Tensor.RandomNormal([cols], seed: 3);
            float[] ar = a.ToArray(), br = b.ToArray(), biasr = bias.ToArray(), dst = new float[n], col = new float[cols];
            string size = $"{rows}x{cols}";
            var cases = new (string Name, Action Tensor, Action Raw)[]
            {
                ("add", () => _ = a + b, () => TensorPrimitives.Add(ar, br, dst)),
                ("add bias (broadcast row)", () => _ = a + bias, () => { for (int r = 0; r < rows; r++) TensorPrimitives.Add(ar.AsSpan(r * cols, cols), biasr, dst.AsSpan(r * cols, cols)); }),
                ("multiply scalar", () => _ = a * 2f, () => TensorPrimitives.Multiply(ar, 2f, dst)),
                ("exp", () => _ = a.Exp(), () => TensorPrimitives.Exp(ar, dst)),
                ("sigmoid", () => _ = NN.Sigmoid(a), () => TensorPrimitives.Sigmoid(ar, dst)),
                ("relu", () => _ = NN.Relu(a), () => TensorPrimitives.Max(ar, 0f, dst)),
                ("sum all", () => _ = a.Sum(), () => _ = TensorPrimitives.Sum(ar)),
                ("max all", () => _ = a.Max(), () => _ = TensorPrimitives.Max(ar)),
                ("sum axis 0", () => _ = a.Sum(0), () =>
                {
                    ar.AsSpan(0, cols).CopyTo(col);
                    for (int r = 1; r < rows; r++) TensorPrimitives.Add(col, ar.AsSpan(r * cols, cols), col);
                }),
            };
            foreach (var (name, tensor, raw) in cases)
            {
                string full = $"{name} {size}";
                if (!full.Contains(options.Filter, StringComparison.Ordinal)) continue;
                double tTensor = options.TimeBest(tensor), tRaw = options.TimeBest(raw);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{{\"case\": \"{full}\", \"tensor_us\": {tTensor * 1e6:F3}, \"raw_us\": {tRaw * 1e6:F3}, \"ratio\": {tTensor / tRaw:F2}, \"overhead_us\": {(tTensor - tRaw) * 1e6:F3}}}"));
            }
        }
    }
}
