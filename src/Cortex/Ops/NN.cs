using Cortex.Activations;
using Cortex.Autodiff;

namespace Cortex;

/// <summary>
/// Activation functions as tensor functions, mirroring <c>tf.nn</c>. All are differentiable and numerically stable
/// for large |x| (softmax of logits ±1000 gives no inf or NaN).
/// </summary>
/// <example>
/// <code>
/// Tensor probs = NN.Softmax(Tensor.FromArray(new float[] { 6, -2, 3 }));   // [0.95227 0.00031945 0.047411]
/// </code>
/// </example>
public static class NN
{
    /// <summary>SELU's α and scale (Klambauer et al. 2017), the constants Keras and PyTorch use.</summary>
    public const float SeluAlpha = 1.6732632423543772f, SeluScale = 1.0507009873554805f;

    /// <summary>The logistic function σ(x) = 1 / (1 + e^−x).</summary>
    public static Tensor Sigmoid(Tensor x) => Activate(x, ActivationFunction.Sigmoid);

    /// <summary>Hyperbolic tangent.</summary>
    public static Tensor Tanh(Tensor x) => Activate(x, ActivationFunction.Tanh);

    /// <summary>max(x, 0). The gradient at 0 is 0.</summary>
    public static Tensor Relu(Tensor x) => Activate(x, ActivationFunction.Relu);

    /// <summary>min(max(x, 0), 6), as Keras's <c>relu6</c>. The gradient is 0 at 0 and at 6.</summary>
    public static Tensor Relu6(Tensor x) => Activate(x, ActivationFunction.Relu6);

    /// <summary>x for x &gt; 0, αx otherwise. Keras's default slope is 0.2 (PyTorch's is 0.01).</summary>
    public static Tensor LeakyRelu(Tensor x, float alpha = 0.2f) => Activate(x, ActivationFunction.LeakyRelu(alpha));

    /// <summary>x for x &gt; 0, α(e^x − 1) otherwise.</summary>
    public static Tensor Elu(Tensor x, float alpha = 1f) => Activate(x, ActivationFunction.Elu(alpha));

    /// <summary>Scaled ELU: scale·x for x &gt; 0, scale·α(e^x − 1) otherwise, with the self-normalising constants.</summary>
    public static Tensor Selu(Tensor x) => Activate(x, ActivationFunction.Selu);

    /// <summary>log(1 + e^x), computed as max(x, 0) + log1p(e^−|x|) so it neither overflows nor loses small values.</summary>
    public static Tensor Softplus(Tensor x) => Activate(x, ActivationFunction.Softplus);

    /// <summary>SiLU (swish): x·σ(x).</summary>
    public static Tensor Silu(Tensor x) => Activate(x, ActivationFunction.Silu);

    /// <summary>GELU: x·Φ(x) with the exact erf form, or the tanh form with <paramref name="approximate"/> (Keras's and
    /// PyTorch's <c>gelu</c>).</summary>
    public static Tensor Gelu(Tensor x, bool approximate = false) => Activate(x, ActivationFunction.Gelu(approximate));

    /// <summary>relu6(x + 3)/6, Keras 3's <c>hard_sigmoid</c>.</summary>
    public static Tensor HardSigmoid(Tensor x) => Activate(x, ActivationFunction.HardSigmoid);

    /// <summary>x·relu6(x + 3)/6, Keras's <c>hard_silu</c> (hard swish).</summary>
    public static Tensor HardSilu(Tensor x) => Activate(x, ActivationFunction.HardSilu);

    /// <summary>x·tanh(softplus(x)).</summary>
    public static Tensor Mish(Tensor x) => Activate(x, ActivationFunction.Mish);

    /// <summary>x/(1 + |x|).</summary>
    public static Tensor Softsign(Tensor x) => Activate(x, ActivationFunction.Softsign);

    /// <summary>
    /// The tape op of every activation: the forward into a new tensor and one node whose backward runs the same
    /// activation's derivative (<see cref="ActivationKernel"/>), so layers and the fused training step, which call that
    /// kernel on their own buffers, get the same bits. Rows are the last axis (softmax normalises each; element-wise
    /// activations only split a large pass between the cores along them).
    /// </summary>
    internal static Tensor Activate(Tensor x, ActivationFunction function)
    {
        ArgumentNullException.ThrowIfNull(x);
        var r = Tensor.Uninitialized(x.Size, x.ShapeRef);
        function.Kernel.Forward(x.AsSpan(), r.Span, RowLength(x));
        if (GradientTape.IsRecording)
        {
            var node = GradientTape.Record(function.Name, r, static (g, n) =>
            {
                var dx = Tensor.Uninitialized(n.X.Size, n.X.ShapeRef);
                ((ActivationKernel)n.State!).Backward(g.AsSpan(), n.X.AsSpan(), n.Output.AsSpan(), dx.Span, RowLength(n.X));
                return [dx];
            }, x);
            if (node != null) node.State = function.Kernel;
        }
        return r;
    }

    private static int RowLength(Tensor x) => x.Rank == 0 ? 1 : x.ShapeRef[^1];

    /// <summary>log(1 + y) accurate for small y (where 1 + y would round to 1).</summary>
    internal static float Log1p(float y) => y < 1e-4f ? y * (1f - y * (0.5f - y / 3f)) : (float)Math.Log(1.0 + y);

    /// <summary>
    /// Softmax along <paramref name="axis"/>: e^(x − max) / Σ e^(x − max). Subtracting the maximum first keeps the
    /// exponentials finite for any logits.
    /// </summary>
    public static Tensor Softmax(Tensor x, int axis = -1) => SoftmaxOp(x, axis, log: false);

    /// <summary>log(softmax(x)) computed directly as x − max − log Σ e^(x − max) (log-sum-exp), finite for any logits.</summary>
    public static Tensor LogSoftmax(Tensor x, int axis = -1) => SoftmaxOp(x, axis, log: true);

    /// <summary>Softmax or log-softmax along any axis, with <see cref="SoftmaxKernel"/>'s forward and backward (the
    /// "softmax" activation runs the same code on the last axis).</summary>
    private static Tensor SoftmaxOp(Tensor x, int axis, bool log)
    {
        ArgumentNullException.ThrowIfNull(x);
        int a = ShapeUtil.Axis(log ? "LogSoftmax" : "Softmax", axis, x.Rank);
        var r = Tensor.Uninitialized(x.Size, x.ShapeRef);
        var (outer, length, inner) = ShapeUtil.Split(x.ShapeRef, a);
        SoftmaxKernel.Forward(x.AsSpan(), r.Span, outer, length, inner, log);
        if (GradientTape.IsRecording)
        {
            var node = log ? GradientTape.Record("LogSoftmax", r, LogSoftmaxBackward, x) : GradientTape.Record("Softmax", r, SoftmaxBackward, x);
            if (node != null) node.Axis = a;
        }
        return r;
    }

    private static Tensor?[] SoftmaxBackward(Tensor g, TapeNode n) => SoftmaxGradient(g, n, log: false);

    private static Tensor?[] LogSoftmaxBackward(Tensor g, TapeNode n) => SoftmaxGradient(g, n, log: true);

    private static Tensor?[] SoftmaxGradient(Tensor g, TapeNode n, bool log)
    {
        var dx = Tensor.Uninitialized(n.X.Size, n.X.ShapeRef);
        var (outer, length, inner) = ShapeUtil.Split(n.X.ShapeRef, n.Axis);
        SoftmaxKernel.Backward(g.AsSpan(), n.Output.AsSpan(), dx.Span, outer, length, inner, log);
        return [dx];
    }
}
