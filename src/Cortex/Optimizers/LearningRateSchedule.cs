using Cortex.Saving;
using System.Text.Json;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Optimizers.ExponentialDecay))]

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

    /// <summary>Rebuilds a schedule from its class name and the dictionary <see cref="GetConfig"/> returned (as JSON).</summary>
    /// <exception cref="ArgumentException">The class name is unknown.</exception>
    public static LearningRateSchedule FromConfig(string className, JsonElement config) => ConfigRegistry.Schedules.Create(className, config);
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
public sealed class ExponentialDecay : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <exception cref="ArgumentException"><paramref name="initialLearningRate"/> is negative or not finite,
    /// <paramref name="decayRate"/> is not a finite number &gt; 0, or <paramref name="decaySteps"/> is not positive.</exception>
    public ExponentialDecay(float initialLearningRate, long decaySteps, float decayRate, bool staircase = false)
    {
        if (decaySteps <= 0)
            throw new ArgumentException($"ExponentialDecay: invalid value for argument decaySteps: expected a whole number > 0. Received: decaySteps={decaySteps}", nameof(decaySteps));
        InitialLearningRate = Hyperparameter.LearningRate(nameof(ExponentialDecay), nameof(initialLearningRate), initialLearningRate);
        DecaySteps = decaySteps;
        DecayRate = Hyperparameter.Positive(nameof(ExponentialDecay), nameof(decayRate), decayRate);
        Staircase = staircase;
    }

    /// <summary>The rate at step 0.</summary>
    public float InitialLearningRate { get; }

    /// <summary>The number of steps over which the rate is multiplied by <see cref="DecayRate"/>.</summary>
    public long DecaySteps { get; }

    /// <summary>The factor applied every <see cref="DecaySteps"/> steps.</summary>
    public float DecayRate { get; }

    /// <summary>Whether the exponent is floored (a step function) rather than continuous.</summary>
    public bool Staircase { get; }

    /// <inheritdoc/>
    public override float GetRate(long step)
    {
        double p = (double)step / DecaySteps;
        if (Staircase) p = Math.Floor(p);
        return (float)(InitialLearningRate * Math.Pow(DecayRate, p));
    }
}
