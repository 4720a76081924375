using System.Globalization;

namespace Cortex.Optimizers;

/// <summary>
/// Checks of optimizer and schedule arguments, made where they are given (constructors and setters) so that a bad
/// value fails at once, with the owner, the argument and the received value named, rather than as NaN weights after
/// training. Keras accepts any float here; a rate of NaN, ±∞ or &lt; 0, a β of 1 or an ε of 0 can only break training.
/// </summary>
internal static class Hyperparameter
{
    /// <summary>A learning rate: finite and ≥ 0. Zero is allowed, as PyTorch allows it: it freezes the weights, which
    /// tests and fine-tuning use, and cannot make them non-finite. A huge finite rate is allowed too (Keras takes any);
    /// it shows up as divergence, which Fit and the CLI report.</summary>
    public static float LearningRate(string owner, string argument, float value) =>
        value >= 0 && float.IsFinite(value) ? value : throw Invalid(owner, argument, "a finite number ≥ 0", value);

    /// <summary>A finite number &gt; 0 (ε, clipping thresholds, decay rates).</summary>
    public static float Positive(string owner, string argument, float value) =>
        value > 0 && float.IsFinite(value) ? value : throw Invalid(owner, argument, "a finite number > 0", value);

    /// <summary>A decay rate in [0, 1) (β₁, β₂, ρ): at 1 the running average never moves from zero.</summary>
    public static float DecayFraction(string owner, string argument, float value) =>
        value is >= 0 and < 1 ? value : throw Invalid(owner, argument, "a number in [0, 1)", value);

    /// <summary>A momentum in [0, 1]; above 1 each step grows the last one.</summary>
    public static float Momentum(string owner, string argument, float value) =>
        value is >= 0 and <= 1 ? value : throw Invalid(owner, argument, "a number in [0, 1]", value);

    /// <summary>The exception for an argument outside its range, in the form Keras and <c>ConfigJson</c> use.</summary>
    public static ArgumentException Invalid(string owner, string argument, string expected, float value) =>
        new($"{owner}: invalid value for argument {argument}: expected {expected}. Received: {argument}={value.ToString(CultureInfo.InvariantCulture)}", argument);
}
