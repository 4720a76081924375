using Cortex.Activations;
using Cortex.Autodiff;
using Cortex.Kernels;

namespace Cortex;

/// <summary>
/// The Dense layer's computation a = g(x·W + b) as one fused op: one GEMM, the bias added row by row while the
/// output is hot in cache, the activation applied in place, and a single tape record whose backward goes from the
/// output alone. Composing MatMul + Add + activation instead records three nodes and allocates three outputs.
/// </summary>
internal static class FusedDense
{
    public static Tensor Forward(Tensor x, Tensor kernel, Tensor? bias, ActivationFunction activation)
    {
        if (!activation.DerivativeFromOutput) return activation.Apply(Forward(x, kernel, bias, ActivationFunction.Linear));
        int rows = x.ShapeRef[0], inputs = x.ShapeRef[1], units = kernel.ShapeRef[1];
        var y = Tensor.Uninitialized([rows, units]);
        Span<float> ys = y.Span;
        Gemm.Sgemm(false, false, rows, units, inputs, x.AsSpan(), inputs, kernel.AsSpan(), units, ys, units);
        activation.AddBiasApplyInPlace(ys, bias == null ? default : bias.AsSpan(), units);
        if (GradientTape.IsRecording)
        {
            var node = bias != null
                ? GradientTape.Record("Dense", y, Backward, x, kernel, bias)
                : GradientTape.Record("Dense", y, Backward, x, kernel);
            if (node != null) node.State = activation;
        }
        return y;
    }

    private static Tensor?[] Backward(Tensor g, TapeNode node)
    {
        Tensor x = node.Inputs[0], kernel = node.Inputs[1], y = node.Output;
        var activation = (ActivationFunction)node.State!;
        int rows = x.ShapeRef[0], inputs = x.ShapeRef[1], units = kernel.ShapeRef[1];
        // dz = g ⊙ g'(z), computed from the output.
        var dz = Tensor.Uninitialized([rows, units]);
        g.AsSpan().CopyTo(dz.Span);
        activation.BackwardInPlace(dz.Span, y.AsSpan(), units);
        var dx = Tensor.Uninitialized([rows, inputs]);
        Gemm.Sgemm(false, true, rows, inputs, units, dz.AsSpan(), units, kernel.AsSpan(), units, dx.Span, inputs);   // dz·Wᵀ
        var dw = Tensor.Uninitialized([inputs, units]);
        Gemm.Sgemm(true, false, inputs, units, rows, x.AsSpan(), inputs, dz.AsSpan(), units, dw.Span, units);        // xᵀ·dz
        if (node.Inputs.Length == 2) return [dx, dw];
        var db = Tensor.Uninitialized([units]);
        Reduce.Sum(dz.AsSpan(), 1, rows, units, db.Span);                                                             // Σ rows
        return [dx, dw, db];
    }
}
