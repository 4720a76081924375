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
        ForwardCore(x.AsSpan(), kernel.AsSpan(), bias == null ? default : bias.AsSpan(), activation, rows, inputs, units, y.Span);
        if (GradientTape.IsRecording)
        {
            var node = bias != null
                ? GradientTape.Record("Dense", y, Backward, x, kernel, bias)
                : GradientTape.Record("Dense", y, Backward, x, kernel);
            if (node != null) node.State = activation;
        }
        return y;
    }

    /// <summary>y = g(x·W + b) on spans: x is rows×inputs, W inputs×units, y rows×units; no bias when
    /// <paramref name="bias"/> is empty. The forward of both the tape op and <see cref="Layers.DenseStage"/>.</summary>
    internal static void ForwardCore(ReadOnlySpan<float> x, ReadOnlySpan<float> kernel, ReadOnlySpan<float> bias,
        ActivationFunction activation, int rows, int inputs, int units, Span<float> y)
    {
        y = y[..(rows * units)];
        Gemm.Sgemm(false, false, rows, units, inputs, x[..(rows * inputs)], inputs, kernel, units, y, units);
        activation.AddBiasApplyInPlace(y, bias, units);
    }

    /// <summary>The start of backward: the output gradient becomes dz = g ⊙ g'(z) in place (computed from the output
    /// <paramref name="y"/>), and the bias gradient Σ dz when <paramref name="biasGrad"/> is not empty.</summary>
    internal static void OutputDelta(Span<float> dz, ReadOnlySpan<float> y, ActivationFunction activation, int rows, int units, Span<float> biasGrad)
    {
        dz = dz[..(rows * units)];
        activation.BackwardInPlace(dz, y[..(rows * units)], units);
        if (!biasGrad.IsEmpty) Reduce.Sum(dz, 1, rows, units, biasGrad);
    }

    /// <summary>The products of backward from dz: dW = xᵀ·dz, and dx = dz·Wᵀ when <paramref name="inputGrad"/> is not empty.</summary>
    internal static void BackwardProducts(ReadOnlySpan<float> x, ReadOnlySpan<float> kernel, ReadOnlySpan<float> dz, int rows, int inputs, int units,
        Span<float> kernelGrad, Span<float> inputGrad)
    {
        Gemm.Sgemm(true, false, inputs, units, rows, x[..(rows * inputs)], inputs, dz[..(rows * units)], units, kernelGrad, units);
        if (!inputGrad.IsEmpty)
            Gemm.Sgemm(false, true, rows, inputs, units, dz[..(rows * units)], units, kernel, units, inputGrad[..(rows * inputs)], inputs);
    }

    private static Tensor?[] Backward(Tensor g, TapeNode node)
    {
        Tensor x = node.Inputs[0], kernel = node.Inputs[1], y = node.Output;
        var activation = (ActivationFunction)node.State!;
        int rows = x.ShapeRef[0], inputs = x.ShapeRef[1], units = kernel.ShapeRef[1];
        var dz = Tensor.Uninitialized([rows, units]);
        g.AsSpan().CopyTo(dz.Span);
        var db = node.Inputs.Length == 2 ? null : Tensor.Uninitialized([units]);
        OutputDelta(dz.Span, y.AsSpan(), activation, rows, units, db == null ? default : db.Span);
        var dx = Tensor.Uninitialized([rows, inputs]);
        var dw = Tensor.Uninitialized([inputs, units]);
        BackwardProducts(x.AsSpan(), kernel.AsSpan(), dz.AsSpan(), rows, inputs, units, dw.Span, dx.Span);
        return db == null ? [dx, dw] : [dx, dw, db];
    }
}
