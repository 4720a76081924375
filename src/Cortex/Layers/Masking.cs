using System.Numerics.Tensors;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.Masking))]

namespace Cortex.Layers;

/// <summary>
/// Marks padding steps, as <c>keras.layers.Masking</c>: a step of a sequence (batch, timesteps, features) is masked
/// when every one of its features equals <see cref="MaskValue"/>. The mask (batch, timesteps) goes to the layers after
/// it — the recurrent layers carry their state over masked steps, <see cref="GlobalAveragePooling1D"/> averages the
/// others — through those that keep the time axis (Dropout, Activation, Dense, TimeDistributed). As in Keras 3, the
/// output is the input times the mask: masked steps come out as zeros (unchanged when <c>maskValue</c> is 0).
/// </summary>
/// <example>
/// <code>
/// var model = new Sequential(new Input([20, 3]), new Masking(maskValue: 0f), new LSTM(16), new Dense(1));
/// </code>
/// </example>
public sealed class Masking : Layer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="maskValue">The value every feature of a padding step holds (Keras default 0).</param>
    /// <param name="name">Layer name; <c>masking</c>, <c>masking_1</c>, … when null.</param>
    public Masking(float maskValue = 0f, string? name = null) : base(name) => MaskValue = maskValue;

    /// <summary>The value that marks padding.</summary>
    public float MaskValue { get; }

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs) => RequireSequences(inputs.ShapeRef);

    private void RequireSequences(int[] shape)
    {
        if (shape.Length != 3)
            throw new ArgumentException($"Masking '{Name}' expects input of rank 3 (batch, timesteps, features). Received: shape {ShapeUtil.Format(shape)}");
    }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => StageOp.Run(this, inputs, training);

    /// <summary>1 where a step has a feature other than <see cref="MaskValue"/>, 0 where all equal it: (batch, timesteps).</summary>
    public override Tensor? ComputeMask(Tensor inputs, Tensor? mask)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        RequireSequences(inputs.ShapeRef);
        var m = Tensor.Uninitialized([inputs.ShapeRef[0], inputs.ShapeRef[1]]);
        Fill(inputs.AsSpan(), m.Span, inputs.ShapeRef[2]);
        return m;
    }

    /// <summary>Writes each step's mask: 0 when all <paramref name="features"/> of it equal the mask value, else 1.</summary>
    private void Fill(ReadOnlySpan<float> x, Span<float> mask, int features)
    {
        for (int i = 0; i < mask.Length; i++)
        {
            ReadOnlySpan<float> step = x.Slice(i * features, features);
            bool padding = true;
            foreach (float v in step)
                if (v != MaskValue) { padding = false; break; }
            mask[i] = padding ? 0f : 1f;
        }
    }

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        stage = null;
        reason = context.Sample.Length != 2 ? $"gets samples of shape {ShapeUtil.Format(context.Sample)}, not (timesteps, features)" : "";
        if (reason.Length > 0) return false;
        stage = new MaskingStage(this, context.Sample[0], context.Sample[1], context.Batch) { Width = context.InputWidth };
        return true;
    }

    /// <inheritdoc/>
    internal override float[]? StageMask(StageContext context, Stage? stage) => ((MaskingStage)stage!).Mask;

    /// <summary>Writes the mask of the batch's steps and the input times it; backward multiplies the gradient by it.</summary>
    private sealed class MaskingStage(Masking layer, int steps, int features, int batch) : Stage
    {
        public readonly float[] Mask = new float[batch * steps];

        public override void Forward(float[] input, int rows)
        {
            layer.Fill(input, Mask.AsSpan(0, rows * steps), features);
            Apply(input, Output, rows);
        }

        public override void Backward(float[] input, float[]? inputGrad, int rows)
        {
            if (inputGrad != null) Apply(OutputGrad, inputGrad, rows);
        }

        private void Apply(float[] from, float[] to, int rows)
        {
            for (int i = 0; i < rows * steps; i++)
                TensorPrimitives.Multiply(from.AsSpan(i * features, features), Mask[i], to.AsSpan(i * features, features));
        }
    }
}
