using Cortex.Saving;
using System.Text.Json;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Optimizers.ExponentialDecay))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Optimizers.CosineDecay))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Optimizers.CosineDecayRestarts))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Optimizers.PiecewiseConstantDecay))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Optimizers.PolynomialDecay))]
[assembly: Cortex.Saving.Registered(typeof(Cortex.Optimizers.InverseTimeDecay))]

namespace Cortex.Optimizers;

/// <summary>
/// A learning rate that changes with the optimizer's step count. Assign one to <see cref="Optimizer.Schedule"/>; the
/// optimizer then asks it for the rate before every update, passing the number of updates applied so far.
/// </summary>
/// <example>
/// <code>
/// var sgd = new SGD { Schedule = new ExponentialDecay(0.1f, decaySteps: 1000, decayRate: 0.96f) };
/// </code>
/// </example>
public abstract class LearningRateSchedule
{
    /// <summary>The learning rate for update number <paramref name="step"/> (0 for the first update).</summary>
    public abstract float GetRate(long step);

    /// <summary>The constructor arguments, Keras-named, for saving (see <see cref="ConfigRegistry"/>).</summary>
    public virtual Dictionary<string, object?> GetConfig() => ConfigRegistry.GetConfig(this);

    /// <summary>Keras's check of a schedule's step count: a whole number &gt; 0.</summary>
    private protected static long Steps(string owner, string argument, long value) => value > 0 ? value
        : throw new ArgumentException($"{owner}: invalid value for argument {argument}: expected a whole number > 0. Received: {argument}={value}", argument);

    /// <summary>The cosine factor Keras's cosine schedules share: <c>(1 − α)·½(1 + cos(π·fraction))·scale + α</c>.</summary>
    private protected static double Cosine(double fraction, double alpha, double scale = 1) =>
        (1 - alpha) * (0.5 * scale * (1 + Math.Cos(Math.PI * fraction))) + alpha;

    /// <summary>Rebuilds a schedule from its class name and the dictionary <see cref="GetConfig"/> returned (as JSON).</summary>
    /// <exception cref="ArgumentException">The class name is unknown.</exception>
    public static LearningRateSchedule FromConfig(string className, JsonElement config) => ConfigRegistry.Schedules.Create(className, config);
}

/// <summary>
/// The form ExponentialDecay and InverseTimeDecay share, as Keras writes both: the rate is a function of
/// <c>p = step/decaySteps</c>, floored when <c>staircase</c> is set (the rate then changes every <c>decaySteps</c> updates).
/// </summary>
/// <example>
/// <code>
/// StepDecay schedule = new InverseTimeDecay(0.1f, decaySteps: 10, decayRate: 0.5f, staircase: true);
/// </code>
/// </example>
public abstract class StepDecay : LearningRateSchedule
{
    /// <summary>Checks and stores the arguments, naming <paramref name="owner"/> in errors.</summary>
    private protected StepDecay(string owner, float initialLearningRate, long decaySteps, float decayRate, bool staircase)
    {
        InitialLearningRate = Hyperparameter.LearningRate(owner, nameof(initialLearningRate), initialLearningRate);
        DecaySteps = Steps(owner, nameof(decaySteps), decaySteps);
        DecayRate = Hyperparameter.LearningRate(owner, nameof(decayRate), decayRate);
        Staircase = staircase;
    }

    /// <summary>The rate at step 0.</summary>
    public float InitialLearningRate { get; }

    /// <summary>The number of steps per unit of p.</summary>
    public long DecaySteps { get; }

    /// <summary>The decay rate.</summary>
    public float DecayRate { get; }

    /// <summary>Whether p is floored (a step function) rather than continuous.</summary>
    public bool Staircase { get; }

    /// <inheritdoc/>
    public sealed override float GetRate(long step)
    {
        double p = (double)step / DecaySteps;
        if (Staircase) p = Math.Floor(p);
        return (float)Rate(p);
    }

    /// <summary>The rate at <paramref name="p"/> = step/decaySteps (floored if staircase).</summary>
    private protected abstract double Rate(double p);
}

/// <summary>
/// Exponential decay: <c>initialLearningRate · decayRate^(step / decaySteps)</c>, with the exponent floored when
/// <c>staircase</c> is set (the rate then drops every <c>decaySteps</c> updates).
/// </summary>
/// <example>
/// <code>
/// var schedule = new ExponentialDecay(0.1f, decaySteps: 100, decayRate: 0.5f);
/// float lr = schedule.GetRate(100);   // 0.05
/// </code>
/// </example>
public sealed class ExponentialDecay : StepDecay
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="initialLearningRate">The rate at step 0.</param>
    /// <param name="decaySteps">The number of steps over which the rate is multiplied by <paramref name="decayRate"/>.</param>
    /// <param name="decayRate">The factor applied every <paramref name="decaySteps"/> steps.</param>
    /// <param name="staircase">Whether the exponent is floored.</param>
    /// <exception cref="ArgumentException"><paramref name="initialLearningRate"/> is negative or not finite,
    /// <paramref name="decayRate"/> is not a finite number &gt; 0, or <paramref name="decaySteps"/> is not positive.</exception>
    public ExponentialDecay(float initialLearningRate, long decaySteps, float decayRate, bool staircase = false)
        : base(nameof(ExponentialDecay), initialLearningRate, decaySteps,
            Hyperparameter.Positive(nameof(ExponentialDecay), nameof(decayRate), decayRate), staircase)
    {
    }

    /// <inheritdoc/>
    private protected override double Rate(double p) => InitialLearningRate * Math.Pow(DecayRate, p);
}

/// <summary>
/// Cosine decay (Loshchilov &amp; Hutter's SGDR without restarts), with an optional linear warmup, as Keras's: without
/// <c>warmupTarget</c>, <c>initialLearningRate·((1 − α)·½(1 + cos(π·min(step, decaySteps)/decaySteps)) + α)</c>; with
/// it, the rate first rises linearly from <c>initialLearningRate</c> to <c>warmupTarget</c> over <c>warmupSteps</c>, then
/// decays from <c>warmupTarget</c> the same way over <c>decaySteps</c>.
/// </summary>
/// <example>
/// <code>
/// var schedule = new CosineDecay(0f, decaySteps: 1000, warmupTarget: 0.1f, warmupSteps: 100);
/// float peak = schedule.GetRate(100);   // 0.1
/// </code>
/// </example>
public sealed class CosineDecay : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="initialLearningRate">The rate at step 0 (where the warmup starts, if any).</param>
    /// <param name="decaySteps">The number of steps the decay takes.</param>
    /// <param name="alpha">The final rate as a fraction of the rate the decay starts from.</param>
    /// <param name="warmupTarget">The rate the warmup reaches; null for no warmup.</param>
    /// <param name="warmupSteps">The number of warmup steps.</param>
    /// <exception cref="ArgumentException"><paramref name="decaySteps"/> is not positive, <paramref name="warmupSteps"/>
    /// is negative, or a rate is negative or not finite.</exception>
    public CosineDecay(float initialLearningRate, long decaySteps, float alpha = 0f, float? warmupTarget = null, long warmupSteps = 0)
    {
        InitialLearningRate = Hyperparameter.LearningRate(nameof(CosineDecay), nameof(initialLearningRate), initialLearningRate);
        DecaySteps = Steps(nameof(CosineDecay), nameof(decaySteps), decaySteps);
        Alpha = Hyperparameter.LearningRate(nameof(CosineDecay), nameof(alpha), alpha);
        if (warmupTarget is float target) Hyperparameter.LearningRate(nameof(CosineDecay), nameof(warmupTarget), target);
        WarmupTarget = warmupTarget;
        WarmupSteps = warmupSteps >= 0 ? warmupSteps
            : throw new ArgumentException($"CosineDecay: invalid value for argument warmupSteps: expected a whole number ≥ 0. Received: warmupSteps={warmupSteps}", nameof(warmupSteps));
    }

    /// <summary>The rate at step 0.</summary>
    public float InitialLearningRate { get; }

    /// <summary>The number of steps the decay takes.</summary>
    public long DecaySteps { get; }

    /// <summary>The final rate as a fraction of the rate the decay starts from.</summary>
    public float Alpha { get; }

    /// <summary>The rate the warmup reaches; null for no warmup.</summary>
    public float? WarmupTarget { get; }

    /// <summary>The number of warmup steps.</summary>
    public long WarmupSteps { get; }

    /// <inheritdoc/>
    public override float GetRate(long step)
    {
        if (WarmupTarget is not float target)
            return (float)(InitialLearningRate * Cosine((double)Math.Min(step, DecaySteps) / DecaySteps, Alpha));
        step = Math.Min(step, DecaySteps + WarmupSteps);
        if (step < WarmupSteps)
            return (float)((target - (double)InitialLearningRate) * step / WarmupSteps + InitialLearningRate);
        return (float)(target * Cosine((double)(step - WarmupSteps) / DecaySteps, Alpha));
    }
}

/// <summary>
/// Cosine decay with warm restarts (SGDR, Loshchilov &amp; Hutter 2017), as Keras's: the rate decays from
/// <c>initialLearningRate</c> to <c>α·initialLearningRate</c> over <c>firstDecaySteps</c>, then restarts; each period
/// is <c>tMul</c> times longer than the last and starts <c>mMul</c> times lower.
/// </summary>
/// <example>
/// <code>
/// var schedule = new CosineDecayRestarts(0.1f, firstDecaySteps: 100);   // periods of 100, 200, 400, … steps
/// </code>
/// </example>
public sealed class CosineDecayRestarts : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="initialLearningRate">The rate at step 0.</param>
    /// <param name="firstDecaySteps">The length of the first period.</param>
    /// <param name="tMul">The factor on each period's length.</param>
    /// <param name="mMul">The factor on each period's starting rate.</param>
    /// <param name="alpha">The lowest rate as a fraction of <paramref name="initialLearningRate"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="firstDecaySteps"/> is not positive, <paramref name="tMul"/> is
    /// not a finite number &gt; 0, or <paramref name="initialLearningRate"/>, <paramref name="mMul"/> or
    /// <paramref name="alpha"/> is negative or not finite.</exception>
    public CosineDecayRestarts(float initialLearningRate, long firstDecaySteps, float tMul = 2f, float mMul = 1f, float alpha = 0f)
    {
        InitialLearningRate = Hyperparameter.LearningRate(nameof(CosineDecayRestarts), nameof(initialLearningRate), initialLearningRate);
        FirstDecaySteps = Steps(nameof(CosineDecayRestarts), nameof(firstDecaySteps), firstDecaySteps);
        TMul = Hyperparameter.Positive(nameof(CosineDecayRestarts), nameof(tMul), tMul);
        MMul = Hyperparameter.LearningRate(nameof(CosineDecayRestarts), nameof(mMul), mMul);
        Alpha = Hyperparameter.LearningRate(nameof(CosineDecayRestarts), nameof(alpha), alpha);
    }

    /// <summary>The rate at step 0.</summary>
    public float InitialLearningRate { get; }

    /// <summary>The length of the first period.</summary>
    public long FirstDecaySteps { get; }

    /// <summary>The factor on each period's length.</summary>
    public float TMul { get; }

    /// <summary>The factor on each period's starting rate.</summary>
    public float MMul { get; }

    /// <summary>The lowest rate as a fraction of the initial rate.</summary>
    public float Alpha { get; }

    /// <inheritdoc/>
    public override float GetRate(long step)
    {
        double fraction = (double)step / FirstDecaySteps, restart;
        if (TMul == 1f)
        {
            restart = Math.Floor(fraction);
            fraction -= restart;
        }
        else
        {
            // Periods 1, t, t², …: the restart is the i with (1 − tⁱ)/(1 − t) ≤ fraction, as Keras solves it with logs.
            restart = Math.Floor(Math.Log(1 - fraction * (1 - TMul)) / Math.Log(TMul));
            double before = (1 - Math.Pow(TMul, restart)) / (1 - TMul);
            fraction = (fraction - before) / Math.Pow(TMul, restart);
        }
        return (float)(InitialLearningRate * Cosine(fraction, Alpha, Math.Pow(MMul, restart)));
    }
}

/// <summary>
/// A piecewise constant rate, as Keras's: <c>values[0]</c> while <c>step ≤ boundaries[0]</c>, <c>values[i]</c> while
/// <c>boundaries[i−1] &lt; step ≤ boundaries[i]</c>, and <c>values[^1]</c> after the last boundary.
/// </summary>
/// <example>
/// <code>
/// var schedule = new PiecewiseConstantDecay([1000, 2000], [0.1f, 0.01f, 0.001f]);
/// </code>
/// </example>
public sealed class PiecewiseConstantDecay : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="boundaries">The steps at which the rate changes, strictly increasing.</param>
    /// <param name="values">The rates: one more than <paramref name="boundaries"/>.</param>
    /// <exception cref="ArgumentException">The lengths do not match (Keras's error), the boundaries are not strictly
    /// increasing, or a value is negative or not finite.</exception>
    public PiecewiseConstantDecay(long[] boundaries, float[] values)
    {
        ArgumentNullException.ThrowIfNull(boundaries);
        ArgumentNullException.ThrowIfNull(values);
        if (boundaries.Length != values.Length - 1)
            throw new ArgumentException($"PiecewiseConstantDecay: the length of boundaries should be 1 less than the length of values. Received: boundaries=[{string.Join(", ", boundaries)}] of length {boundaries.Length}, and values=[{string.Join(", ", values)}] of length {values.Length}.", nameof(values));
        for (int i = 1; i < boundaries.Length; i++)
            if (boundaries[i] <= boundaries[i - 1])
                throw new ArgumentException($"PiecewiseConstantDecay: invalid value for argument boundaries: expected strictly increasing steps. Received: boundaries=[{string.Join(", ", boundaries)}]", nameof(boundaries));
        foreach (float v in values) Hyperparameter.LearningRate(nameof(PiecewiseConstantDecay), nameof(values), v);
        Boundaries = [.. boundaries];
        Values = [.. values];
    }

    /// <summary>The steps at which the rate changes (a copy is kept).</summary>
    public long[] Boundaries { get; }

    /// <summary>The rates, one per interval (a copy is kept).</summary>
    public float[] Values { get; }

    /// <inheritdoc/>
    public override float GetRate(long step)
    {
        int i = 0;
        while (i < Boundaries.Length && step > Boundaries[i]) i++;
        return Values[i];
    }
}

/// <summary>
/// Polynomial decay, as Keras's: <c>(initial − end)·(1 − min(step, decaySteps)/decaySteps)^power + end</c>; with
/// <c>cycle</c>, the decay restarts, over the first multiple of <c>decaySteps</c> at or above the step.
/// </summary>
/// <example>
/// <code>
/// var schedule = new PolynomialDecay(0.1f, decaySteps: 10000, endLearningRate: 0.01f, power: 0.5f);
/// </code>
/// </example>
public sealed class PolynomialDecay : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="initialLearningRate">The rate at step 0.</param>
    /// <param name="decaySteps">The number of steps to reach <paramref name="endLearningRate"/>.</param>
    /// <param name="endLearningRate">The final rate.</param>
    /// <param name="power">The power of the polynomial.</param>
    /// <param name="cycle">Whether to restart the decay after <paramref name="decaySteps"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="decaySteps"/> is not positive, a rate is negative or not
    /// finite, or <paramref name="power"/> is not a finite number &gt; 0.</exception>
    public PolynomialDecay(float initialLearningRate, long decaySteps, float endLearningRate = 1e-4f, float power = 1f, bool cycle = false)
    {
        InitialLearningRate = Hyperparameter.LearningRate(nameof(PolynomialDecay), nameof(initialLearningRate), initialLearningRate);
        DecaySteps = Steps(nameof(PolynomialDecay), nameof(decaySteps), decaySteps);
        EndLearningRate = Hyperparameter.LearningRate(nameof(PolynomialDecay), nameof(endLearningRate), endLearningRate);
        Power = Hyperparameter.Positive(nameof(PolynomialDecay), nameof(power), power);
        Cycle = cycle;
    }

    /// <summary>The rate at step 0.</summary>
    public float InitialLearningRate { get; }

    /// <summary>The number of steps to reach the final rate.</summary>
    public long DecaySteps { get; }

    /// <summary>The final rate.</summary>
    public float EndLearningRate { get; }

    /// <summary>The power of the polynomial.</summary>
    public float Power { get; }

    /// <summary>Whether the decay restarts after each period.</summary>
    public bool Cycle { get; }

    /// <inheritdoc/>
    public override float GetRate(long step)
    {
        double steps = DecaySteps, at = step;
        if (Cycle) steps *= step == 0 ? 1 : Math.Ceiling((double)step / DecaySteps);
        else at = Math.Min(at, steps);
        return (float)(((double)InitialLearningRate - EndLearningRate) * Math.Pow(1 - at / steps, Power) + EndLearningRate);
    }
}

/// <summary>
/// Inverse time decay, as Keras's: <c>initialLearningRate/(1 + decayRate·step/decaySteps)</c>, with
/// <c>step/decaySteps</c> floored when <c>staircase</c> is set.
/// </summary>
/// <example>
/// <code>
/// var schedule = new InverseTimeDecay(0.1f, decaySteps: 1, decayRate: 0.5f);
/// float lr = schedule.GetRate(2);   // 0.05
/// </code>
/// </example>
public sealed class InverseTimeDecay : StepDecay
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="initialLearningRate">The rate at step 0.</param>
    /// <param name="decaySteps">The number of steps per unit of decay.</param>
    /// <param name="decayRate">The decay rate.</param>
    /// <param name="staircase">Whether to decay in whole units of <paramref name="decaySteps"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="decaySteps"/> is not positive, or
    /// <paramref name="initialLearningRate"/> or <paramref name="decayRate"/> is negative or not finite.</exception>
    public InverseTimeDecay(float initialLearningRate, long decaySteps, float decayRate, bool staircase = false)
        : base(nameof(InverseTimeDecay), initialLearningRate, decaySteps, decayRate, staircase)
    {
    }

    /// <inheritdoc/>
    private protected override double Rate(double p) => InitialLearningRate / (1 + DecayRate * p);
}
