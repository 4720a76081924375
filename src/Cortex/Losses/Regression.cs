[assembly: Cortex.Saving.Registered(typeof(Cortex.Losses.MeanAbsolutePercentageError))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Losses.MeanSquaredLogarithmicError))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Losses.Huber))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Losses.LogCosh))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Losses.Poisson))]

namespace Cortex.Losses;

/// <summary>
/// Mean absolute percentage error: <c>100·mean(|yTrue − yPred| / max(|yTrue|, 1e-7))</c> over the last axis, then
/// reduced over the batch.
/// </summary>
/// <example>
/// <code>
/// var mape = new MeanAbsolutePercentageError();
/// Tensor j = mape.Call(Tensor.FromArray(new float[,] { { 2, 4 } }), Tensor.FromArray(new float[,] { { 1, 5 } }));   // 37.5
/// </code>
/// </example>
public sealed class MeanAbsolutePercentageError : PointwiseLoss
{
    /// <summary>Creates the loss (Keras name <c>mean_absolute_percentage_error</c>, alias <c>mape</c>).</summary>
    /// <param name="reduction">How per-sample losses are reduced (see <see cref="Loss.Reduction"/>).</param>
    public MeanAbsolutePercentageError(string reduction = "sum_over_batch_size") : base("mean_absolute_percentage_error", reduction) { }

    private protected override Tensor Elementwise(Tensor yTrue, Tensor yPred) =>
        (yTrue - yPred).Abs() * (100f / Tensor.Maximum(yTrue.Abs(), Epsilon));
}

/// <summary>
/// Mean squared logarithmic error: <c>mean((log(max(yPred, 1e-7) + 1) − log(max(yTrue, 1e-7) + 1))²)</c> over the
/// last axis, then reduced over the batch.
/// </summary>
/// <example>
/// <code>
/// var msle = new MeanSquaredLogarithmicError();
/// Tensor j = msle.Call(Tensor.FromArray(new float[,] { { 1, 3 } }), Tensor.FromArray(new float[,] { { 0, 3 } }));
/// </code>
/// </example>
public sealed class MeanSquaredLogarithmicError : PointwiseLoss
{
    /// <summary>Creates the loss (Keras name <c>mean_squared_logarithmic_error</c>, alias <c>msle</c>).</summary>
    /// <param name="reduction">How per-sample losses are reduced (see <see cref="Loss.Reduction"/>).</param>
    public MeanSquaredLogarithmicError(string reduction = "sum_over_batch_size") : base("mean_squared_logarithmic_error", reduction) { }

    private protected override Tensor Elementwise(Tensor yTrue, Tensor yPred) =>
        ((Tensor.Maximum(yPred, Epsilon) + 1f).Log() - (Tensor.Maximum(yTrue, Epsilon) + 1f).Log()).Square();
}

/// <summary>
/// The Huber loss: for each error e = yPred − yTrue, <c>e²/2</c> where |e| ≤ delta and <c>delta·|e| − delta²/2</c>
/// beyond; averaged over the last axis, then reduced over the batch. Quadratic near 0, linear for outliers.
/// </summary>
/// <example>
/// <code>
/// var huber = new Huber(delta: 1f);
/// Tensor j = huber.Call(Tensor.FromArray(new float[,] { { 0, 1 }, { 0, 0 } }), Tensor.FromArray(new float[,] { { 0.6f, 0.4f }, { 0.4f, 0.6f } }));   // 0.155
/// </code>
/// </example>
public sealed class Huber : PointwiseLoss
{
    /// <summary>Creates the loss (Keras name <c>huber_loss</c>; <c>Loss.Get("huber")</c>).</summary>
    /// <param name="delta">Where the loss turns from quadratic to linear: a positive number.</param>
    /// <param name="reduction">How per-sample losses are reduced (see <see cref="Loss.Reduction"/>).</param>
    /// <exception cref="ArgumentException"><paramref name="delta"/> is not a positive finite number.</exception>
    public Huber(float delta = 1f, string reduction = "sum_over_batch_size") : base("huber_loss", reduction)
    {
        if (!(delta > 0) || float.IsInfinity(delta))
            throw new ArgumentException($"Huber: invalid value for argument delta: expected a positive finite number. Received: delta={delta}", nameof(delta));
        Delta = delta;
    }

    /// <summary>Where the loss turns from quadratic to linear.</summary>
    public float Delta { get; }

    private protected override Tensor Elementwise(Tensor yTrue, Tensor yPred)
    {
        Tensor error = yPred - yTrue, abs = error.Abs();
        return Tensor.Where(Tensor.LessEqual(abs, Tensor.Scalar(Delta)), 0.5f * error.Square(), Delta * abs - 0.5f * Delta * Delta);
    }
}

/// <summary>
/// The logarithm of the hyperbolic cosine of the error, <c>mean(log(cosh(yPred − yTrue)))</c> over the last axis, then
/// reduced over the batch; computed as Keras does, <c>x + softplus(−2x) − log 2</c>, finite for any error. About
/// <c>x²/2</c> for small errors and <c>|x| − log 2</c> for large ones.
/// </summary>
/// <example>
/// <code>
/// var logCosh = new LogCosh();
/// Tensor j = logCosh.Call(Tensor.FromArray(new float[,] { { 0, 1 }, { 0, 0 } }), Tensor.FromArray(new float[,] { { 1, 1 }, { 0, 0 } }));   // 0.108
/// </code>
/// </example>
public sealed class LogCosh : PointwiseLoss
{
    /// <summary>Creates the loss (Keras name <c>log_cosh</c>, alias <c>logcosh</c>).</summary>
    /// <param name="reduction">How per-sample losses are reduced (see <see cref="Loss.Reduction"/>).</param>
    public LogCosh(string reduction = "sum_over_batch_size") : base("log_cosh", reduction) { }

    private protected override Tensor Elementwise(Tensor yTrue, Tensor yPred)
    {
        Tensor x = yPred - yTrue;
        return x + NN.Softplus(-2f * x) - MathF.Log(2f);
    }
}

/// <summary>
/// The Poisson loss, <c>mean(yPred − yTrue·log(yPred + 1e-7))</c> over the last axis, then reduced over the batch:
/// for counts predicted as rates (predictions ≥ 0).
/// </summary>
/// <example>
/// <code>
/// var poisson = new Poisson();
/// Tensor j = poisson.Call(Tensor.FromArray(new float[,] { { 0, 2 } }), Tensor.FromArray(new float[,] { { 0.5f, 1.5f } }));
/// </code>
/// </example>
public sealed class Poisson : PointwiseLoss
{
    /// <summary>Creates the loss (Keras name <c>poisson</c>).</summary>
    /// <param name="reduction">How per-sample losses are reduced (see <see cref="Loss.Reduction"/>).</param>
    public Poisson(string reduction = "sum_over_batch_size") : base("poisson", reduction) { }

    private protected override Tensor Elementwise(Tensor yTrue, Tensor yPred) => yPred - yTrue * (yPred + Epsilon).Log();
}
