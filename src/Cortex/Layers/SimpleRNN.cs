using Cortex.Activations;
using Cortex.Initializers;
using Cortex.Regularizers;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.SimpleRNN))]

namespace Cortex.Layers;

/// <summary>
/// A fully connected recurrent layer, as <c>keras.layers.SimpleRNN</c>: <c>h_t = g(x_t·W + h_{t−1}·U + b)</c> from
/// h = 0, with <c>kernel</c> W (features, units), <c>recurrent_kernel</c> U (units, units) and <c>bias</c> b (units).
/// Input (batch, timesteps, features); output the last state (batch, units), or every state (batch, timesteps, units)
/// with <c>returnSequences</c>.
/// </summary>
/// <example>
/// <code>
/// var model = new Sequential(new Input([10, 3]), new SimpleRNN(16, returnSequences: true), new SimpleRNN(8), new Dense(1));
/// </code>
/// </example>
public sealed class SimpleRNN : RecurrentLayer
{
    /// <summary>Creates the layer; weights are made on first use, when the number of features is known.</summary>
    /// <param name="units">Dimension of the state (output features).</param>
    /// <param name="activation">g (Keras default tanh; null means tanh — pass <c>"linear"</c> for none). Its
    /// derivative must be computable from its output.</param>
    /// <param name="useBias">Whether to add b.</param>
    /// <param name="kernelInitializer">How W starts (default glorot_uniform).</param>
    /// <param name="recurrentInitializer">How U starts (default orthogonal).</param>
    /// <param name="biasInitializer">How b starts (default zeros).</param>
    /// <param name="kernelRegularizer">Penalty on W added to the loss.</param>
    /// <param name="recurrentRegularizer">Penalty on U.</param>
    /// <param name="biasRegularizer">Penalty on b.</param>
    /// <param name="dropout">Fraction of the input's features dropped in training (one mask per sequence), in [0, 1).</param>
    /// <param name="recurrentDropout">Fraction of the recurrent state dropped in training (one mask per sequence), in [0, 1).</param>
    /// <param name="seed">Seed of the dropout masks (null: from the global seed).</param>
    /// <param name="returnSequences">Whether to return every step's state, not only the last.</param>
    /// <param name="goBackwards">Whether to process the sequence from its last step.</param>
    /// <param name="returnState">Whether a call also returns the final state ([output, h]), as Keras's
    /// <c>return_state</c> (see <see cref="Layer.CallWithState(SymbolicTensor, IReadOnlyList{SymbolicTensor}?)"/>).</param>
    /// <param name="name">Layer name; <c>simple_rnn</c>, <c>simple_rnn_1</c>, … when null.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="units"/> is not positive, or a dropout rate is outside [0, 1).</exception>
    /// <exception cref="ArgumentException"><paramref name="activation"/>'s derivative needs its input (softplus, silu).</exception>
    public SimpleRNN(int units, ActivationFunction? activation = null, bool useBias = true,
        Initializer? kernelInitializer = null, Initializer? recurrentInitializer = null, Initializer? biasInitializer = null,
        Regularizer? kernelRegularizer = null, Regularizer? recurrentRegularizer = null, Regularizer? biasRegularizer = null,
        float dropout = 0f, float recurrentDropout = 0f, int? seed = null, bool returnSequences = false, bool goBackwards = false, bool returnState = false, string? name = null)
        : base(units, 1, activation, null, useBias, kernelInitializer, recurrentInitializer, biasInitializer,
            kernelRegularizer, recurrentRegularizer, biasRegularizer, dropout, recurrentDropout, seed, returnSequences, returnState, goBackwards, name)
    {
    }

    /// <inheritdoc/>
    private protected override Stage CreateStage(StageContext context) => new SimpleRnnStage(this, context);

    /// <summary>h = g(z) with z = x·W + b + h_{t−1}·U: the gate buffer is the state.</summary>
    private sealed class SimpleRnnStage(SimpleRNN layer, StageContext context) : RecurrentStage(layer, context)
    {
        protected override void ForwardStep(int t, int s, int lo, int hi)
        {
            if (Recurs(s)) Recur(RecurrentState, t, lo, hi, 0, G, Z, accumulate: true);
            for (int n = lo; n < hi; n++)
            {
                Span<float> z = Z.AsSpan(At(n, t, Steps, G), G);
                Layer.Activation.ApplyInPlace(z, Units);
                z.CopyTo(NextState(HPrev, HLast, n, s));
            }
        }

        protected override void BackwardStep(int t, int s, int lo, int hi)
        {
            for (int n = lo; n < hi; n++)
            {
                Span<float> dz = DZ.AsSpan(At(n, t, Steps, G), G);
                DH.AsSpan(n * Units, Units).CopyTo(dz);
                Layer.Activation.BackwardInPlace(dz, Z.AsSpan(At(n, t, Steps, G), G), Units);
            }
            RowsOf(DH, lo, hi).Clear();   // h_{t−1} reaches h_t only through U
        }
    }
}
