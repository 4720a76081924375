namespace Cortex.Losses;

/// <summary>
/// Keras's loss functions (<c>keras.losses.binary_crossentropy(y_true, y_pred)</c>, …): the per-sample losses,
/// unreduced — for predictions (N, k), a tensor (N,) — differentiable on a tape. Each is the loss class's
/// <see cref="Loss.PerSample"/> with the same arguments.
/// </summary>
/// <example>
/// <code>
/// Tensor perSample = LossFunctions.BinaryCrossentropy(yTrue, yPred, fromLogits: true);   // (N,)
/// Tensor worst = perSample.Max();
/// </code>
/// </example>
public static class LossFunctions
{
    /// <summary>Per-sample binary cross-entropy (see <see cref="Losses.BinaryCrossentropy"/>).</summary>
    public static Tensor BinaryCrossentropy(Tensor yTrue, Tensor yPred, bool fromLogits = false, float labelSmoothing = 0f, int axis = -1) =>
        new BinaryCrossentropy(fromLogits, labelSmoothing, axis).PerSample(yTrue, yPred);

    /// <summary>Per-sample categorical cross-entropy (see <see cref="Losses.CategoricalCrossentropy"/>).</summary>
    public static Tensor CategoricalCrossentropy(Tensor yTrue, Tensor yPred, bool fromLogits = false, float labelSmoothing = 0f, int axis = -1) =>
        new CategoricalCrossentropy(fromLogits, labelSmoothing, axis).PerSample(yTrue, yPred);

    /// <summary>Per-sample sparse categorical cross-entropy (see <see cref="Losses.SparseCategoricalCrossentropy"/>); an
    /// ignored entry's loss is 0.</summary>
    public static Tensor SparseCategoricalCrossentropy(Tensor yTrue, Tensor yPred, bool fromLogits = false, int? ignoreClass = null) =>
        new SparseCategoricalCrossentropy(fromLogits, ignoreClass).PerSample(yTrue, yPred);

    /// <summary>Per-sample mean squared error (see <see cref="Losses.MeanSquaredError"/>).</summary>
    public static Tensor MeanSquaredError(Tensor yTrue, Tensor yPred) => new MeanSquaredError().PerSample(yTrue, yPred);

    /// <summary>Per-sample mean absolute error (see <see cref="Losses.MeanAbsoluteError"/>).</summary>
    public static Tensor MeanAbsoluteError(Tensor yTrue, Tensor yPred) => new MeanAbsoluteError().PerSample(yTrue, yPred);

    /// <summary>Per-sample mean absolute percentage error (see <see cref="Losses.MeanAbsolutePercentageError"/>).</summary>
    public static Tensor MeanAbsolutePercentageError(Tensor yTrue, Tensor yPred) => new MeanAbsolutePercentageError().PerSample(yTrue, yPred);

    /// <summary>Per-sample mean squared logarithmic error (see <see cref="Losses.MeanSquaredLogarithmicError"/>).</summary>
    public static Tensor MeanSquaredLogarithmicError(Tensor yTrue, Tensor yPred) => new MeanSquaredLogarithmicError().PerSample(yTrue, yPred);

    /// <summary>Per-sample Huber loss (see <see cref="Losses.Huber"/>).</summary>
    public static Tensor Huber(Tensor yTrue, Tensor yPred, float delta = 1f) => new Huber(delta).PerSample(yTrue, yPred);

    /// <summary>Per-sample log-cosh loss (see <see cref="Losses.LogCosh"/>).</summary>
    public static Tensor LogCosh(Tensor yTrue, Tensor yPred) => new LogCosh().PerSample(yTrue, yPred);

    /// <summary>Per-sample hinge loss (see <see cref="Losses.Hinge"/>).</summary>
    public static Tensor Hinge(Tensor yTrue, Tensor yPred) => new Hinge().PerSample(yTrue, yPred);

    /// <summary>Per-sample squared hinge loss (see <see cref="Losses.SquaredHinge"/>).</summary>
    public static Tensor SquaredHinge(Tensor yTrue, Tensor yPred) => new SquaredHinge().PerSample(yTrue, yPred);

    /// <summary>Per-sample categorical hinge loss (see <see cref="Losses.CategoricalHinge"/>).</summary>
    public static Tensor CategoricalHinge(Tensor yTrue, Tensor yPred) => new CategoricalHinge().PerSample(yTrue, yPred);

    /// <summary>Per-sample Kullback–Leibler divergence (see <see cref="Losses.KLDivergence"/>).</summary>
    public static Tensor KLDivergence(Tensor yTrue, Tensor yPred) => new KLDivergence().PerSample(yTrue, yPred);

    /// <summary>Per-sample Poisson loss (see <see cref="Losses.Poisson"/>).</summary>
    public static Tensor Poisson(Tensor yTrue, Tensor yPred) => new Poisson().PerSample(yTrue, yPred);

    /// <summary>Per-sample negated cosine similarity (see <see cref="Losses.CosineSimilarity"/>).</summary>
    public static Tensor CosineSimilarity(Tensor yTrue, Tensor yPred, int axis = -1) => new CosineSimilarity(axis).PerSample(yTrue, yPred);
}
