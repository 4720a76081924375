using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Cortex.Activations;
using Cortex.Initializers;
using Cortex.Kernels;
using Cortex.Regularizers;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.LSTM))]

namespace Cortex.Layers;

/// <summary>
/// Long short-term memory, as <c>keras.layers.LSTM</c>: from h = c = 0, each step computes the gates
/// <c>i, f, o = σ(x_t·W + h_{t−1}·U + b)</c> and the candidate <c>g = tanh(…)</c> (one column block each, in the order
/// i, f, c, o — PyTorch's i, f, g, o), then <c>c_t = f ⊙ c_{t−1} + i ⊙ g</c> and <c>h_t = o ⊙ tanh(c_t)</c>.
/// <c>kernel</c> W is (features, 4·units), <c>recurrent_kernel</c> U (units, 4·units), <c>bias</c> b (4·units).
/// </summary>
/// <example>
/// <code>
/// var model = new Sequential(new Input([28, 28]), new LSTM(64), new Dense(10));   // digits as 28 rows of 28 pixels
/// </code>
/// </example>
public sealed class LSTM : RecurrentLayer
{
    /// <summary>Creates the layer; weights are made on first use, when the number of features is known.</summary>
    /// <param name="units">Dimension of the state (output features).</param>
    /// <param name="activation">The candidate's and the cell output's activation (Keras default tanh; null means tanh).</param>
    /// <param name="recurrentActivation">The gates' activation (Keras default sigmoid; null means sigmoid).</param>
    /// <param name="useBias">Whether to add b.</param>
    /// <param name="kernelInitializer">How W starts (default glorot_uniform).</param>
    /// <param name="recurrentInitializer">How U starts (default orthogonal).</param>
    /// <param name="biasInitializer">How b starts (default zeros).</param>
    /// <param name="unitForgetBias">Whether the forget gate's quarter of b starts at 1 (Keras's default, after
    /// Jozefowicz et al. 2015), whatever <paramref name="biasInitializer"/> draws for it.</param>
    /// <param name="kernelRegularizer">Penalty on W added to the loss.</param>
    /// <param name="recurrentRegularizer">Penalty on U.</param>
    /// <param name="biasRegularizer">Penalty on b.</param>
    /// <param name="dropout">Fraction of the input's features dropped in training (one mask per sequence), in [0, 1).</param>
    /// <param name="recurrentDropout">Fraction of the recurrent state dropped in training (one mask per sequence), in [0, 1).</param>
    /// <param name="seed">Seed of the dropout masks (null: from the global seed).</param>
    /// <param name="returnSequences">Whether to return every step's state, not only the last.</param>
    /// <param name="goBackwards">Whether to process the sequence from its last step.</param>
    /// <param name="returnState">Whether a call also returns the final state and cell state ([output, h, c]), as Keras's
    /// <c>return_state</c> (see <see cref="Layer.CallWithState(SymbolicTensor, IReadOnlyList{SymbolicTensor}?)"/>).</param>
    /// <param name="name">Layer name; <c>lstm</c>, <c>lstm_1</c>, … when null.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="units"/> is not positive, or a dropout rate is outside [0, 1).</exception>
    /// <exception cref="ArgumentException">An activation's derivative needs its input (softplus, silu).</exception>
    public LSTM(int units, ActivationFunction? activation = null, ActivationFunction? recurrentActivation = null, bool useBias = true,
        Initializer? kernelInitializer = null, Initializer? recurrentInitializer = null, Initializer? biasInitializer = null,
        bool unitForgetBias = true, Regularizer? kernelRegularizer = null, Regularizer? recurrentRegularizer = null,
        Regularizer? biasRegularizer = null,
        float dropout = 0f, float recurrentDropout = 0f, int? seed = null, bool returnSequences = false, bool goBackwards = false, bool returnState = false, string? name = null)
        : base(units, 4, activation, recurrentActivation, useBias, kernelInitializer, recurrentInitializer, biasInitializer,
            kernelRegularizer, recurrentRegularizer, biasRegularizer, dropout, recurrentDropout, seed, returnSequences, returnState, goBackwards, name)
    {
        UnitForgetBias = unitForgetBias;
    }

    /// <summary>The gates' activation.</summary>
    public ActivationFunction RecurrentActivation => GateActivation;

    /// <summary>Whether the forget gate's bias starts at 1.</summary>
    public bool UnitForgetBias { get; }

    /// <inheritdoc/>
    private protected override void InitializeBias(Span<float> bias)
    {
        if (UnitForgetBias) bias.Slice(Units, Units).Fill(1f);
    }

    /// <inheritdoc/>
    private protected override Stage CreateStage(StageContext context) => new LstmStage(this, context);

    /// <summary>
    /// Z holds the activated gates i, f, g, o of every step; C the cell state each step starts from (CLast after the
    /// last), TC = tanh(c_t) of every step: all that backward needs. A step's cell runs in one pass over each row,
    /// compiled for the two activations (<see cref="Cells"/>); an activation that is not element-wise (softmax) runs
    /// span by span instead.
    /// </summary>
    private sealed unsafe class LstmStage : RecurrentStage
    {
        private readonly float[] c, cLast, tc, dc, scratch;

        public LstmStage(LSTM layer, StageContext context) : base(layer, context)
        {
            int batch = context.Batch;
            c = new float[batch * Steps * Units];
            tc = new float[batch * Steps * Units];
            cLast = new float[batch * Units];
            dc = new float[batch * Units];
            scratch = new float[batch * Units]; // a row's own slice: rows run on several cores
            Carry(c, cLast, dc, batch);
        }

        protected override void BeginForward(int lo, int hi)
        {
            for (int n = lo; n < hi; n++) ClearFirst(c, n, TimeAt(0));
        }

        /// <summary>A step's cells for rows [lo, hi), reached with the gate's operator, then the activation's.</summary>
        private struct Cells(LstmStage stage, int t, int s, int lo, int hi, bool backward) : IOperatorVisitor
        {
            public bool Ran;

            public void Visit<TG>(TG gate) where TG : unmanaged, IActivationOperator
            {
                var inner = new Cells<TG>(stage, gate, t, s, lo, hi, backward);
                Ran = stage.Layer.Activation.Kernel.Accept(ref inner);
            }
        }

        private readonly struct Cells<TG>(LstmStage stage, TG gate, int t, int s, int lo, int hi, bool backward) : IOperatorVisitor
            where TG : unmanaged, IActivationOperator
        {
            public void Visit<TA>(TA act) where TA : unmanaged, IActivationOperator
            {
                if (Vector512.IsHardwareAccelerated) stage.RunCells<Lanes512, TG, TA>(gate, act, t, s, lo, hi, backward);
                else if (Vector256.IsHardwareAccelerated) stage.RunCells<Lanes256, TG, TA>(gate, act, t, s, lo, hi, backward);
                else if (Vector128.IsHardwareAccelerated) stage.RunCells<Lanes128, TG, TA>(gate, act, t, s, lo, hi, backward);
                else stage.RunCells<ScalarLane, TG, TA>(gate, act, t, s, lo, hi, backward);
            }
        }

        /// <summary>Whether the step's cells ran in one pass per row (false: an activation is not element-wise).</summary>
        private bool TryCells(int t, int s, int lo, int hi, bool backward)
        {
            var cells = new Cells(this, t, s, lo, hi, backward);
            return Layer.GateActivation.Kernel.Accept(ref cells) && cells.Ran;
        }

        /// <summary>Rows [lo, hi) of step s (input time t), forward or backward, <typeparamref name="TL"/>'s lanes at a
        /// time and the rest one float at a time.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void RunCells<TL, TG, TA>(TG gate, TA act, int t, int s, int lo, int hi, bool backward)
            where TL : unmanaged, ILanes<TL> where TG : unmanaged, IActivationOperator where TA : unmanaged, IActivationOperator
        {
            int u = Units, vectorEnd = u - u % TL.Count;
            bool last = s == Steps - 1;
            int next = last ? 0 : TimeAt(s + 1);
            fixed (float* z0 = Z, dz0 = DZ, c0 = c, cLast0 = cLast, tc0 = tc, h0 = HPrev, hLast0 = HLast, dh0 = DH, dc0 = dc)
                for (int n = lo; n < hi; n++)
                {
                    float* z = z0 + At(n, t, Steps, G), cPrev = c0 + At(n, t, Steps, u), tanhC = tc0 + At(n, t, Steps, u);
                    if (!backward)
                    {
                        float* cNew = last ? cLast0 + n * u : c0 + At(n, next, Steps, u);
                        float* hNew = last ? hLast0 + n * u : h0 + At(n, next, Steps, u);
                        int j = 0;
                        for (; j < vectorEnd; j += TL.Count) CellForward<TL, TG, TA>(gate, act, z + j, u, cPrev + j, cNew + j, tanhC + j, hNew + j);
                        for (; j < u; j++) CellForward<ScalarLane, TG, TA>(gate, act, z + j, u, cPrev + j, cNew + j, tanhC + j, hNew + j);
                    }
                    else
                    {
                        float* dz = dz0 + At(n, t, Steps, G), dh = dh0 + n * u, dcRow = dc0 + n * u;
                        int j = 0;
                        for (; j < vectorEnd; j += TL.Count) CellBackward<TL, TG, TA>(gate, act, z + j, dz + j, u, cPrev + j, tanhC + j, dh + j, dcRow + j);
                        for (; j < u; j++) CellBackward<ScalarLane, TG, TA>(gate, act, z + j, dz + j, u, cPrev + j, tanhC + j, dh + j, dcRow + j);
                    }
                }
        }

        /// <summary>One lane group of a cell: the gates activated in place (z, z + u, …: i, f, g, o), c_t = f ⊙ c_{t−1} + i ⊙ g,
        /// tanh(c_t) kept, h_t = o ⊙ tanh(c_t).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void CellForward<TL, TG, TA>(TG gate, TA act, float* z, int u, float* cPrev, float* cNew, float* tanhC, float* hNew)
            where TL : unmanaged, ILanes<TL> where TG : unmanaged, IActivationOperator where TA : unmanaged, IActivationOperator
        {
            TL i = TL.Activate(gate, TL.Load(z)), f = TL.Activate(gate, TL.Load(z + u));
            TL g = TL.Activate(act, TL.Load(z + 2 * u)), o = TL.Activate(gate, TL.Load(z + 3 * u));
            i.Store(z);
            f.Store(z + u);
            g.Store(z + 2 * u);
            o.Store(z + 3 * u);
            TL cell = f * TL.Load(cPrev) + i * g;
            cell.Store(cNew);
            TL squashed = TL.Activate(act, cell);
            squashed.Store(tanhC);
            (o * squashed).Store(hNew);
        }

        /// <summary>One lane group of a cell backward: from dh_t (cleared: h_{t−1} reaches h_t only through U) and the
        /// running dc, the four gates' pre-activation gradients and dc_{t−1}.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void CellBackward<TL, TG, TA>(TG gate, TA act, float* z, float* dz, int u, float* cPrev, float* tanhC, float* dh, float* dc)
            where TL : unmanaged, ILanes<TL> where TG : unmanaged, IActivationOperator where TA : unmanaged, IActivationOperator
        {
            TL i = TL.Load(z), f = TL.Load(z + u), g = TL.Load(z + 2 * u), o = TL.Load(z + 3 * u);
            TL squashed = TL.Load(tanhC), dhv = TL.Load(dh);
            TL dcv = TL.Load(dc) + TL.ActivationGradient(act, dhv * o, squashed, squashed);   // dc_t, all of it
            TL.ActivationGradient(gate, dcv * g, i, i).Store(dz);                              // di
            TL.ActivationGradient(gate, dcv * TL.Load(cPrev), f, f).Store(dz + u);             // df
            TL.ActivationGradient(act, dcv * i, g, g).Store(dz + 2 * u);                       // dg
            TL.ActivationGradient(gate, dhv * squashed, o, o).Store(dz + 3 * u);               // do
            (dcv * f).Store(dc);                                                               // dc_{t−1}
            TL.Broadcast(0f).Store(dh);
        }

        protected override void ForwardStep(int t, int s, int lo, int hi)
        {
            if (Recurs(s)) Recur(RecurrentState, t, lo, hi, 0, G, Z, accumulate: true);
            if (TryCells(t, s, lo, hi, backward: false)) return;
            int u = Units;
            ActivationFunction gate = Layer.GateActivation, act = Layer.Activation;
            for (int n = lo; n < hi; n++)
            {
                Span<float> z = Z.AsSpan(At(n, t, Steps, G), G);
                gate.ApplyInPlace(z[..(2 * u)], u);
                act.ApplyInPlace(z.Slice(2 * u, u), u);
                gate.ApplyInPlace(z[(3 * u)..], u);
                Span<float> cNew = NextState(c, cLast, n, s), tanhC = tc.AsSpan(At(n, t, Steps, u), u);
                TensorPrimitives.Multiply(z.Slice(u, u), c.AsSpan(At(n, t, Steps, u), u), cNew);   // f ⊙ c_{t−1}
                TensorPrimitives.MultiplyAdd(z[..u], z.Slice(2 * u, u), cNew, cNew);                // + i ⊙ g
                act.Kernel.Forward(cNew, tanhC, u);
                TensorPrimitives.Multiply(z[(3 * u)..], tanhC, NextState(HPrev, HLast, n, s));      // h = o ⊙ tanh(c)
            }
        }

        protected override void BeginBackward(int lo, int hi) => RowsOf(dc, lo, hi).Clear();

        protected override void BackwardStep(int t, int s, int lo, int hi)
        {
            if (TryCells(t, s, lo, hi, backward: true)) return;
            int u = Units;
            ActivationFunction gate = Layer.GateActivation, act = Layer.Activation;
            for (int n = lo; n < hi; n++)
            {
                Span<float> tmp = scratch.AsSpan(n * u, u);
                ReadOnlySpan<float> z = Z.AsSpan(At(n, t, Steps, G), G), tanhC = tc.AsSpan(At(n, t, Steps, u), u);
                ReadOnlySpan<float> i = z[..u], f = z.Slice(u, u), g = z.Slice(2 * u, u), o = z[(3 * u)..];
                Span<float> dz = DZ.AsSpan(At(n, t, Steps, G), G), dh = DH.AsSpan(n * u, u), dcn = dc.AsSpan(n * u, u);
                TensorPrimitives.Multiply(dh, tanhC, dz[(3 * u)..]);                 // do
                TensorPrimitives.Multiply(dh, o, tmp);                               // d tanh(c)
                act.BackwardInPlace(tmp, tanhC, u);
                TensorPrimitives.Add(dcn, tmp, dcn);                                 // dc_t, all of it
                TensorPrimitives.Multiply(dcn, g, dz[..u]);                          // di
                TensorPrimitives.Multiply(dcn, c.AsSpan(At(n, t, Steps, u), u), dz.Slice(u, u));   // df
                TensorPrimitives.Multiply(dcn, i, dz.Slice(2 * u, u));               // dg
                TensorPrimitives.Multiply(dcn, f, dcn);                              // dc_{t−1}
                gate.BackwardInPlace(dz[..(2 * u)], z[..(2 * u)], u);
                act.BackwardInPlace(dz.Slice(2 * u, u), g, u);
                gate.BackwardInPlace(dz[(3 * u)..], o, u);
                dh.Clear();   // h_{t−1} reaches h_t only through U
            }
        }
    }
}
