using System.Numerics.Tensors;
using Cortex.Activations;
using Cortex.Initializers;
using Cortex.Kernels;
using Cortex.Regularizers;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.GRU))]

namespace Cortex.Layers;

/// <summary>
/// Gated recurrent unit, as <c>keras.layers.GRU</c>: from h = 0, each step computes the update and reset gates
/// <c>z, r = σ(x_t·W + b_x + h_{t−1}·U + b_h)</c>, the candidate <c>h̃ = tanh(x_t·W_h + b_xh + r ⊙ (h_{t−1}·U_h + b_hh))</c>
/// and <c>h_t = z ⊙ h_{t−1} + (1 − z) ⊙ h̃</c>. The gates are column blocks in the order z, r, h (PyTorch's order is
/// r, z, n). <c>kernel</c> W is (features, 3·units), <c>recurrent_kernel</c> U (units, 3·units), and <c>bias</c> (2,
/// 3·units): the input bias b_x, then the recurrent bias b_h — PyTorch's GRU. With <c>resetAfter: false</c> the reset
/// gate applies before the product, <c>h̃ = tanh(x_t·W_h + (r ⊙ h_{t−1})·U_h + b_h)</c>, and the bias is (3·units).
/// </summary>
/// <example>
/// <code>
/// var model = new Sequential(new Input([20, 8]), new GRU(32, returnSequences: true), new GRU(16), new Dense(1));
/// </code>
/// </example>
public sealed class GRU : RecurrentLayer
{
    /// <summary>Creates the layer; weights are made on first use, when the number of features is known.</summary>
    /// <param name="units">Dimension of the state (output features).</param>
    /// <param name="activation">The candidate's activation (Keras default tanh; null means tanh).</param>
    /// <param name="recurrentActivation">The gates' activation (Keras default sigmoid; null means sigmoid).</param>
    /// <param name="useBias">Whether to add the biases.</param>
    /// <param name="kernelInitializer">How W starts (default glorot_uniform).</param>
    /// <param name="recurrentInitializer">How U starts (default orthogonal).</param>
    /// <param name="biasInitializer">How the biases start (default zeros).</param>
    /// <param name="kernelRegularizer">Penalty on W added to the loss.</param>
    /// <param name="recurrentRegularizer">Penalty on U.</param>
    /// <param name="biasRegularizer">Penalty on the biases.</param>
    /// <param name="dropout">Fraction of the input's features dropped in training (one mask per sequence), in [0, 1).</param>
    /// <param name="recurrentDropout">Fraction of the recurrent state dropped in training (one mask per sequence), in [0, 1).</param>
    /// <param name="seed">Seed of the dropout masks (null: from the global seed).</param>
    /// <param name="returnSequences">Whether to return every step's state, not only the last.</param>
    /// <param name="goBackwards">Whether to process the sequence from its last step.</param>
    /// <param name="returnState">Whether a call also returns the final state ([output, h]), as Keras's
    /// <c>return_state</c> (see <see cref="Layer.CallWithState(SymbolicTensor, IReadOnlyList{SymbolicTensor}?)"/>).</param>
    /// <param name="resetAfter">Whether the reset gate applies after the recurrent product (Keras's default, and
    /// PyTorch's GRU) or before it.</param>
    /// <param name="name">Layer name; <c>gru</c>, <c>gru_1</c>, … when null.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="units"/> is not positive, or a dropout rate is outside [0, 1).</exception>
    /// <exception cref="ArgumentException">An activation's derivative needs its input (softplus, silu).</exception>
    public GRU(int units, ActivationFunction? activation = null, ActivationFunction? recurrentActivation = null, bool useBias = true,
        Initializer? kernelInitializer = null, Initializer? recurrentInitializer = null, Initializer? biasInitializer = null,
        Regularizer? kernelRegularizer = null, Regularizer? recurrentRegularizer = null, Regularizer? biasRegularizer = null,
        float dropout = 0f, float recurrentDropout = 0f, int? seed = null, bool returnSequences = false, bool goBackwards = false, bool returnState = false, bool resetAfter = true, string? name = null)
        : base(units, 3, activation, recurrentActivation, useBias, kernelInitializer, recurrentInitializer, biasInitializer,
            kernelRegularizer, recurrentRegularizer, biasRegularizer, dropout, recurrentDropout, seed, returnSequences, returnState, goBackwards, name)
    {
        ResetAfter = resetAfter;
    }

    /// <summary>The gates' activation.</summary>
    public ActivationFunction RecurrentActivation => GateActivation;

    /// <summary>Whether the reset gate applies after the recurrent product.</summary>
    public bool ResetAfter { get; }

    /// <inheritdoc/>
    private protected override int[] BiasShape => ResetAfter ? [2, 3 * Units] : [3 * Units];

    /// <inheritdoc/>
    private protected override Stage CreateStage(StageContext context) => new GruStage(this, context);

    /// <summary>
    /// Z holds the activated gates z, r, h̃ of every step. With reset_after, RH holds h_{t−1}·U + b_h of every step (the
    /// candidate's part is scaled by r) and DRecurrent differs from DZ in that part; without, RH holds r ⊙ h_{t−1},
    /// the candidate's recurrent input.
    /// </summary>
    private sealed class GruStage : RecurrentStage
    {
        private readonly bool after;
        private readonly float[] rh, scratch, drh;
        /// <summary>With recurrent dropout (rows, steps, units): the candidate times the mask, as Keras 3's GRU.</summary>
        private readonly float[]? droppedCandidate;

        protected override bool DropsState => false;

        public GruStage(GRU layer, StageContext context) : base(layer, context)
        {
            after = layer.ResetAfter;
            int batch = context.Batch;
            rh = new float[batch * Steps * (after ? G : Units)];
            scratch = new float[batch * Units]; // a row's own slice: rows run on several cores
            drh = after ? [] : new float[batch * Units];
            if (after) DRecurrent = new float[batch * Steps * G];
            if (RecurrentKeep != null) droppedCandidate = new float[batch * Steps * Units];
        }

        /// <summary>Row n's candidate h̃ at time t as the update mixes it: Z's, or with recurrent dropout h̃ ⊙ keep.</summary>
        private ReadOnlySpan<float> Candidate(int n, int t)
        {
            Span<float> hh = Z.AsSpan(At(n, t, Steps, G) + 2 * Units, Units);
            if (droppedCandidate == null) return hh;
            Span<float> dropped = droppedCandidate.AsSpan(At(n, t, Steps, Units), Units);
            TensorPrimitives.Multiply(hh, RecurrentKeep.AsSpan(n * Units, Units), dropped);
            return dropped;
        }

        protected override void ForwardStep(int t, int s, int lo, int hi)
        {
            int u = Units;
            ActivationFunction gate = Layer.GateActivation, act = Layer.Activation;
            if (after)
            {
                ReadOnlySpan<float> bh = Layer.Bias == null ? default : Layer.Bias.AsSpan()[G..];
                if (Recurs(s)) Recur(HPrev, t, lo, hi, 0, G, rh, accumulate: false);
                for (int n = lo; n < hi; n++)
                {
                    Span<float> z = Z.AsSpan(At(n, t, Steps, G), G), rec = rh.AsSpan(At(n, t, Steps, G), G);
                    if (!Recurs(s)) rec.Clear();
                    if (!bh.IsEmpty) TensorPrimitives.Add(rec, bh, rec);
                    TensorPrimitives.Add(z[..(2 * u)], rec[..(2 * u)], z[..(2 * u)]);
                    gate.ApplyInPlace(z[..(2 * u)], u);
                    TensorPrimitives.MultiplyAdd(z.Slice(u, u), rec[(2 * u)..], z[(2 * u)..], z[(2 * u)..]);   // + r ⊙ (h·U_h + b_hh)
                    act.ApplyInPlace(z[(2 * u)..], u);
                    Update(z, Candidate(n, t), HPrev.AsSpan(At(n, t, Steps, u), u), NextState(HPrev, HLast, n, s));
                }
                return;
            }
            if (Recurs(s)) Recur(HPrev, t, lo, hi, 0, 2 * u, Z, accumulate: true);
            for (int n = lo; n < hi; n++)
            {
                Span<float> z = Z.AsSpan(At(n, t, Steps, G), G);
                gate.ApplyInPlace(z[..(2 * u)], u);
                TensorPrimitives.Multiply(z.Slice(u, u), HPrev.AsSpan(At(n, t, Steps, u), u), rh.AsSpan(At(n, t, Steps, u), u));
            }
            if (Recurs(s)) Recur(rh, t, lo, hi, 2 * u, u, Z, accumulate: true);   // + (r ⊙ h)·U_h
            for (int n = lo; n < hi; n++)
            {
                Span<float> z = Z.AsSpan(At(n, t, Steps, G), G);
                act.ApplyInPlace(z[(2 * u)..], u);
                Update(z, Candidate(n, t), HPrev.AsSpan(At(n, t, Steps, u), u), NextState(HPrev, HLast, n, s));
            }
        }

        /// <summary>h_t = h̃ + z ⊙ (h_{t−1} − h̃), which is z ⊙ h_{t−1} + (1 − z) ⊙ h̃.</summary>
        private void Update(ReadOnlySpan<float> z, ReadOnlySpan<float> hh, ReadOnlySpan<float> hPrev, Span<float> hNew)
        {
            TensorPrimitives.Subtract(hPrev, hh, hNew);
            TensorPrimitives.MultiplyAdd(z[..Units], hNew, hh, hNew);
        }

        protected override void BackwardStep(int t, int s, int lo, int hi)
        {
            int u = Units;
            ActivationFunction gate = Layer.GateActivation, act = Layer.Activation;
            for (int n = lo; n < hi; n++)
            {
                Span<float> tmp = scratch.AsSpan(n * u, u);
                ReadOnlySpan<float> z = Z.AsSpan(At(n, t, Steps, G), G), hPrev = HPrev.AsSpan(At(n, t, Steps, u), u);
                Span<float> dz = DZ.AsSpan(At(n, t, Steps, G), G), dh = DH.AsSpan(n * u, u);
                ReadOnlySpan<float> hh = droppedCandidate == null ? z[(2 * u)..] : droppedCandidate.AsSpan(At(n, t, Steps, u), u);
                TensorPrimitives.Subtract(hPrev, hh, dz[..u]);
                TensorPrimitives.Multiply(dz[..u], dh, dz[..u]);               // dz = dh ⊙ (h_{t−1} − h̃)
                TensorPrimitives.Multiply(dh, z[..u], tmp);
                TensorPrimitives.Subtract(dh, tmp, dz[(2 * u)..]);             // dh̃ = dh ⊙ (1 − z)
                if (droppedCandidate != null) TensorPrimitives.Multiply(dz[(2 * u)..], RecurrentKeep.AsSpan(n * u, u), dz[(2 * u)..]);
                act.BackwardInPlace(dz[(2 * u)..], z[(2 * u)..], u);
                tmp.CopyTo(dh);                                                // dh_{t−1} directly: dh ⊙ z
                if (!after) continue;
                ReadOnlySpan<float> rec = rh.AsSpan(At(n, t, Steps, G) + 2 * u, u);
                Span<float> dr = DRecurrent.AsSpan(At(n, t, Steps, G), G);
                TensorPrimitives.Multiply(dz[(2 * u)..], rec, dz.Slice(u, u)); // dr = dh̃_pre ⊙ (h·U_h + b_hh)
                gate.BackwardInPlace(dz[..(2 * u)], z[..(2 * u)], u);
                dz[..(2 * u)].CopyTo(dr);
                TensorPrimitives.Multiply(dz[(2 * u)..], z.Slice(u, u), dr[(2 * u)..]);
            }
            if (after) return;
            // Without reset_after, the reset gate's gradient needs d(r ⊙ h) = dh̃_pre·U_hᵀ first.
            Span<float> dRh = RowsOf(drh, lo, hi);
            if (Recurs(s)) RecurBack(DZ, t, lo, hi, 2 * u, u, dRh, accumulate: false);
            else dRh.Clear();
            for (int n = lo; n < hi; n++)
            {
                ReadOnlySpan<float> z = Z.AsSpan(At(n, t, Steps, G), G), d = drh.AsSpan(n * u, u);
                Span<float> dz = DZ.AsSpan(At(n, t, Steps, G), G);
                TensorPrimitives.Multiply(d, HPrev.AsSpan(At(n, t, Steps, u), u), dz.Slice(u, u));
                gate.BackwardInPlace(dz[..(2 * u)], z[..(2 * u)], u);
                TensorPrimitives.MultiplyAdd(d, z.Slice(u, u), DH.AsSpan(n * u, u), DH.AsSpan(n * u, u));   // + d(r ⊙ h) ⊙ r
            }
        }

        protected override void RecurrentBackward(int t, int lo, int hi)
        {
            if (after) base.RecurrentBackward(t, lo, hi);
            else RecurBack(DZ, t, lo, hi, 0, 2 * Units, RowsOf(DH, lo, hi), accumulate: true);
        }

        protected override void RecurrentKernelGradient(int rows, Span<float> dU)
        {
            if (after)
            {
                base.RecurrentKernelGradient(rows, dU);
                return;
            }
            int k = rows * Steps, u = Units;
            Gemm.Sgemm(true, false, u, 2 * u, k, HPrev.AsSpan(0, k * u), u, DZ.AsSpan(0, k * G), G, dU, G);
            Gemm.Sgemm(true, false, u, u, k, rh.AsSpan(0, k * u), u, DZ.AsSpan(2 * u, k * G - 2 * u), G, dU[(2 * u)..], G);
        }
    }
}
