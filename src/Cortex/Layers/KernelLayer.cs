using Cortex.Activations;
using Cortex.Constraints;
using Cortex.Initializers;
using Cortex.Regularizers;

namespace Cortex.Layers;

/// <summary>
/// The base of the layers that compute <c>a = g(x ⊛ K + b)</c> with a learned kernel K and an optional bias b —
/// <see cref="Dense"/> (⊛ a matrix product), <see cref="Conv2D"/> and <see cref="Conv1D"/> (a convolution): the activation, the initializers
/// and regularizers of both weights, whether there is a bias, the weights themselves, and the conditions under which
/// the layer runs in the fused training step.
/// </summary>
public abstract class KernelLayer : Layer
{
    /// <summary>Stores the configuration the kernel layers share (Keras's defaults: linear, a bias, glorot_uniform, zeros).</summary>
    private protected KernelLayer(ActivationFunction? activation, bool useBias, Initializer? kernelInitializer, Initializer? biasInitializer,
        Regularizer? kernelRegularizer, Regularizer? biasRegularizer, Constraint? kernelConstraint, Constraint? biasConstraint, string? name)
        : base(name)
    {
        KernelConstraint = kernelConstraint;
        BiasConstraint = biasConstraint;
        Activation = activation ?? ActivationFunction.Linear;
        UseBias = useBias;
        KernelInitializer = kernelInitializer ?? new GlorotUniform();
        BiasInitializer = biasInitializer ?? new Zeros();
        KernelRegularizer = kernelRegularizer;
        BiasRegularizer = biasRegularizer;
    }

    /// <summary>The activation g.</summary>
    public ActivationFunction Activation { get; }
    /// <summary>Whether a bias is added.</summary>
    public bool UseBias { get; }
    /// <summary>Initializer of the kernel.</summary>
    public Initializer KernelInitializer { get; }
    /// <summary>Initializer of the bias.</summary>
    public Initializer BiasInitializer { get; }
    /// <summary>Penalty on the kernel, if any.</summary>
    public Regularizer? KernelRegularizer { get; }
    /// <summary>Penalty on the bias, if any.</summary>
    public Regularizer? BiasRegularizer { get; }
    /// <summary>Projection of the kernel after each update (e.g. <see cref="MaxNorm"/>), if any.</summary>
    public Constraint? KernelConstraint { get; }
    /// <summary>Projection of the bias after each update, if any.</summary>
    public Constraint? BiasConstraint { get; }
    /// <summary>The kernel — (inputs, units) for Dense, (KH, KW, input channels / groups, filters) for Conv2D, (kernel size, input
    /// channels, filters) for Conv1D, (KH, KW, input channels, depth multiplier) for DepthwiseConv2D, (KH, KW, filters,
    /// input channels) for Conv2DTranspose; null before the layer is built.</summary>
    public Variable? Kernel { get; private set; }
    /// <summary>The bias, one per output feature; null before building or without bias.</summary>
    public Variable? Bias { get; private set; }

    /// <summary>Creates the kernel of <paramref name="kernelShape"/> and, with <see cref="UseBias"/>, a bias as long as its
    /// last axis (or <paramref name="outputs"/> long when given: DepthwiseConv2D's C·M).</summary>
    private protected void AddKernelAndBias(int[] kernelShape, int outputs = 0)
    {
        Kernel = AddWeight("kernel", kernelShape, KernelInitializer, regularizer: KernelRegularizer, constraint: KernelConstraint);
        if (UseBias) Bias = AddWeight("bias", [outputs > 0 ? outputs : kernelShape[^1]], BiasInitializer, regularizer: BiasRegularizer, constraint: BiasConstraint);
    }

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        stage = null;
        // Forward only (inference), a frozen kernel and an activation whose derivative needs its input do not matter.
        reason = !Trainable && context.Training ? "is frozen"
            : !Activation.DerivativeFromOutput && context.Training ? $"has the activation '{Activation.Name}'"
            : SampleRefusal(context.Sample);
        if (reason.Length > 0) return false;
        stage = CreateStage(context, context.AddWeight(Kernel)!, context.AddWeight(Bias));
        return true;
    }

    /// <summary>Why samples of this shape (no batch axis) cannot run in this layer's stage, or "" when they can.</summary>
    private protected abstract string SampleRefusal(int[] sample);

    /// <summary>The layer's stage, writing the kernel's and bias's gradients (null without bias) into the given buffers.</summary>
    private protected abstract Stage CreateStage(StageContext context, Tensor kernelGrad, Tensor? biasGrad);
}
