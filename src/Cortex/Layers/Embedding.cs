using System.Numerics.Tensors;
using Cortex.Initializers;
using Cortex.Regularizers;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.Embedding))]

namespace Cortex.Layers;

/// <summary>
/// Turns indices into dense vectors, as <c>keras.layers.Embedding</c>: row <c>i</c> of the table
/// <c>embeddings</c> (inputDim, outputDim) stands for index <c>i</c>, so a batch of sequences (N, T) of word or
/// character indices becomes (N, T, outputDim). Indices are floats holding whole numbers in [0, inputDim).
/// </summary>
/// <remarks>
/// Keras casts non-integer indices to integers silently and TensorFlow rejects out-of-range ones only on some devices;
/// Cortex refuses both, naming the row and position. The gradient of a row is the sum of the output gradients of the
/// positions that looked it up (a dense gradient: every row of the table is written, most with zeros). With
/// <c>maskZero: true</c> index 0 is reserved for padding and <see cref="ComputeMask(Tensor)"/> marks the other positions
/// (so the vocabulary needs inputDim = words + 1); in a <see cref="Models.Sequential"/> the mask goes on to the layers
/// after it (see <see cref="Masking"/>).
/// </remarks>
/// <example>
/// <code>
/// var model = new Sequential(new Input([20]), new Embedding(inputDim: 1000, outputDim: 16), new Flatten(), new Dense(1, "sigmoid"));
/// </code>
/// </example>
public sealed class Embedding : Layer
{
    /// <summary>Creates the layer; the table is made on first use.</summary>
    /// <param name="inputDim">Size of the vocabulary: the largest index + 1.</param>
    /// <param name="outputDim">Length of each vector.</param>
    /// <param name="embeddingsInitializer">How the table starts (Keras default: <c>"uniform"</c>, ±0.05).</param>
    /// <param name="embeddingsRegularizer">Penalty on the table added to the loss.</param>
    /// <param name="maskZero">Whether index 0 is padding (see <see cref="ComputeMask(Tensor)"/>).</param>
    /// <param name="name">Layer name; <c>embedding</c>, <c>embedding_1</c>, … when null.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="inputDim"/> or <paramref name="outputDim"/> is not positive.</exception>
    public Embedding(int inputDim, int outputDim, Initializer? embeddingsInitializer = null, Regularizer? embeddingsRegularizer = null,
        bool maskZero = false, string? name = null) : base(name)
    {
        if (inputDim <= 0) throw new ArgumentOutOfRangeException(nameof(inputDim), $"Embedding: inputDim must be a positive integer. Received: inputDim={inputDim}");
        if (outputDim <= 0) throw new ArgumentOutOfRangeException(nameof(outputDim), $"Embedding: outputDim must be a positive integer. Received: outputDim={outputDim}");
        InputDim = inputDim;
        OutputDim = outputDim;
        EmbeddingsInitializer = embeddingsInitializer ?? new RandomUniform();
        EmbeddingsRegularizer = embeddingsRegularizer;
        MaskZero = maskZero;
    }

    /// <summary>Size of the vocabulary.</summary>
    public int InputDim { get; }
    /// <summary>Length of each vector.</summary>
    public int OutputDim { get; }
    /// <summary>How the table starts.</summary>
    public Initializer EmbeddingsInitializer { get; }
    /// <summary>Penalty on the table, if any.</summary>
    public Regularizer? EmbeddingsRegularizer { get; }
    /// <summary>Whether index 0 is padding.</summary>
    public bool MaskZero { get; }
    /// <summary>The table (inputDim, outputDim); null before the layer is built.</summary>
    public Variable? Embeddings { get; private set; }

    /// <inheritdoc/>
    protected override void Build(int[] inputShape) =>
        Embeddings = AddWeight("embeddings", [InputDim, OutputDim], EmbeddingsInitializer, regularizer: EmbeddingsRegularizer);

    /// <inheritdoc/>
    protected override bool TryBuildFromWeights(Tensor[] values)
    {
        if (values[0].Rank != 2 || values[0].ShapeRef[0] != InputDim || values[0].ShapeRef[1] != OutputDim) return false;
        EnsureBuilt([-1, 1]);
        return true;
    }

    /// <inheritdoc/>
    protected override void CheckInput(Tensor inputs)
    {
        if (inputs.Rank < 1)
            throw new ArgumentException($"Embedding '{Name}' expects input with a batch axis. Received: shape {ShapeUtil.Format(inputs.ShapeRef)}");
        CheckIndices(inputs.AsSpan(), Math.Max(1, inputs.Size / Math.Max(1, inputs.ShapeRef[0])));
    }

    /// <summary>Throws for the first entry that is not a whole number in [0, inputDim), naming its row and position.</summary>
    private void CheckIndices(ReadOnlySpan<float> indices, int perRow)
    {
        for (int i = 0; i < indices.Length; i++)
        {
            float v = indices[i];
            if (!(v >= 0 && v < InputDim) || v != MathF.Floor(v))
                throw new ArgumentException($"Embedding '{Name}' expects indices that are whole numbers in [0, {InputDim}) (inputDim={InputDim}). Received: {v} at row {i / perRow}, position {i % perRow}");
        }
    }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) => StageOp.Run(this, inputs, training);

    /// <inheritdoc/>
    public override int[] ComputeOutputShape(int[] inputShape) => [.. inputShape, OutputDim];

    /// <summary>With <see cref="MaskZero"/>, 1 where an index is not 0 and 0 where it is (the input's shape); otherwise null.</summary>
    public Tensor? ComputeMask(Tensor inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        return MaskZero ? Tensor.NotEqual(inputs, Tensor.Scalar(0f)) : null;
    }

    /// <summary>The mask this layer makes (see <see cref="ComputeMask(Tensor)"/>); a mask reaching it is not passed on.</summary>
    public override Tensor? ComputeMask(Tensor inputs, Tensor? mask) => ComputeMask(inputs);

    /// <inheritdoc/>
    internal override float[]? StageMask(StageContext context, Stage? stage) => ((EmbeddingStage)stage!).Mask;

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        reason = "";
        int positions = context.InputWidth;
        stage = new EmbeddingStage(this, positions)
        {
            Width = positions * OutputDim,
            Grad = context.AddWeight(Trainable ? Embeddings : null),
            Mask = MaskZero ? new float[context.Batch * positions] : null,
        };
        return true;
    }

    /// <summary>Looks up every position's row; the gradient adds each position's output gradient into its row.</summary>
    private sealed class EmbeddingStage(Embedding layer, int positions) : Stage
    {
        public Tensor? Grad;
        /// <summary>With maskZero, rows × positions: 1 where the index is not 0 (written by Forward).</summary>
        public float[]? Mask;

        public override void Forward(float[] input, int rows)
        {
            ReadOnlySpan<float> indices = input.AsSpan(0, rows * positions);
            layer.CheckIndices(indices, positions);
            ReadOnlySpan<float> table = layer.Embeddings!.AsSpan();
            int d = layer.OutputDim;
            Span<float> y = Output;
            for (int i = 0; i < indices.Length; i++)
                table.Slice((int)indices[i] * d, d).CopyTo(y.Slice(i * d, d));
            if (Mask != null)
                for (int i = 0; i < indices.Length; i++) Mask[i] = indices[i] != 0f ? 1f : 0f;
        }

        public override void Backward(float[] input, float[]? inputGrad, int rows)
        {
            inputGrad?.AsSpan(0, rows * positions).Clear(); // indices take no gradient
            if (Grad == null) return;
            Span<float> dTable = Grad.Span;
            dTable.Clear();
            ReadOnlySpan<float> indices = input.AsSpan(0, rows * positions), g = OutputGrad;
            int d = layer.OutputDim;
            for (int i = 0; i < indices.Length; i++)
            {
                Span<float> row = dTable.Slice((int)indices[i] * d, d);
                TensorPrimitives.Add(row, g.Slice(i * d, d), row);
            }
        }
    }
}
