using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using Cortex.Activations;
using Cortex.Kernels;
using Cortex.Layers;
using Cortex.Metrics;

namespace Cortex.Models;

/// <summary>
/// The training step for the models the course notes build — a stack of Dense, Conv2D, MaxPooling2D/AveragePooling2D,
/// Activation, Dropout, Flatten, Reshape, channels-last BatchNormalization and leading Normalization/Input layers with
/// a loss that has a fused kernel — run on buffers made once per Fit: the batch is gathered straight into an input
/// buffer (an NHWC image is one contiguous row), each Dense is one GEMM and each Conv2D one im2col + GEMM with its bias
/// and activation applied in place, the loss writes its gradient while computing its value, and backward reuses the
/// same buffers. After the first step it
/// allocates nothing. It uses the same kernels in the same order as the GradientTape path (<see cref="FusedDense"/>,
/// <see cref="ConvOp"/>, <see cref="PoolOp"/>, the losses' shared kernels, the optimizer), so both paths produce the
/// same bits. Any other model (a regularizer, a BatchNormalization that is not on the last axis, another layer type)
/// takes the tape path.
/// </summary>
internal sealed class FusedTrainStep
{
    private abstract class Stage
    {
        public int Width;                       // output features per row
        public float[] Output = [];             // rows × Width
        public float[] OutputGrad = [];         // rows × Width: the gradient of the loss w.r.t. Output
        public abstract void Forward(float[] input, int rows);
        /// <summary>Consumes <see cref="OutputGrad"/> (may overwrite it); writes the input gradient when asked.</summary>
        public abstract void Backward(float[] input, float[]? inputGrad, int rows);
    }

    private sealed class DenseStage(Dense layer, int inputs) : Stage
    {
        private readonly Dense layer = layer;
        private readonly int inputs = inputs;
        public int Inputs => inputs;
        public Tensor KernelGrad = null!, BiasGrad = null!;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Forward(float[] input, int rows)
        {
            int units = Width;
            Span<float> y = Output.AsSpan(0, rows * units);
            Gemm.Sgemm(false, false, rows, units, inputs, input.AsSpan(0, rows * inputs), inputs, layer.Kernel!.AsSpan(), units, y, units);
            layer.Activation.AddBiasApplyInPlace(y, layer.Bias == null ? default : layer.Bias.AsSpan(), units);
        }

        /// <summary>
        /// Backward for the first weighted layer (no input gradient) with the kernel's Adam update folded in: dW is
        /// computed a block of rows at a time into an L1-sized scratch and each block is applied at once, so the
        /// 784×128 gradient is never written out and read back. The two cores take the same row halves as the
        /// forward GEMM's k split, so each updates the weights it multiplies. The bias gradient is left for the
        /// optimizer as usual. Same bits as <see cref="Backward"/> followed by ApplyGradients.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public unsafe void BackwardAndUpdate(float[] input, int rows, in Optimizers.Adam.PieceStep step, float[] m, float[] v, int split)
        {
            OutputDelta(rows);
            fixed (float* x = input, d = OutputGrad, w = layer.Kernel!.AsSpan(), pm = m, pv = v)
            {
                var job = new PieceJob { X = x, Dz = d, W = w, M = pm, V = pv, Step = step, Inputs = inputs, Units = Width, Rows = rows };
                if (split > 0)
                {
                    Span<int> bounds = [0, split, inputs];
                    if (GemmThreads.TryRunRanges(&UpdateRows, &job, bounds)) return;
                }
                UpdateRows(&job, 0, inputs);
            }
        }

        /// <summary>The start of both backward passes: dz = g ⊙ g'(y) in place of the output gradient, and the bias
        /// gradient Σ dz.</summary>
        private Span<float> OutputDelta(int rows)
        {
            int units = Width;
            Span<float> dz = OutputGrad.AsSpan(0, rows * units);
            layer.Activation.BackwardInPlace(dz, Output.AsSpan(0, rows * units), units);
            if (layer.Bias != null) Reduce.Sum(dz, 1, rows, units, BiasGrad.Span);
            return dz;
        }

        private unsafe struct PieceJob
        {
            public float* X, Dz, W, M, V;
            public Optimizers.Adam.PieceStep Step;
            public int Inputs, Units, Rows;
        }

        /// <summary>Kernel rows [lo, hi): dW block = X[:, block]ᵀ·dz on this thread, then Adam on the block.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static unsafe void UpdateRows(void* state, int lo, int hi)
        {
            var j = (PieceJob*)state;
            int units = j->Units, inputs = j->Inputs, rows = j->Rows;
            int block = Math.Max(8, 4096 / units / 8 * 8);   // ≤ 16 KiB of gradient per block
            float* scratch = stackalloc float[block * units];
            for (int r0 = lo; r0 < hi; r0 += block)
            {
                int r1 = Math.Min(hi, r0 + block), count = (r1 - r0) * units;
                Gemm.Sgemm(true, false, r1 - r0, units, rows, new ReadOnlySpan<float>(j->X + r0, (rows - 1) * inputs + (r1 - r0)), inputs,
                    new ReadOnlySpan<float>(j->Dz, rows * units), units, new Span<float>(scratch, count), units, false, GemmKernel.Auto, 1);
                long at = (long)r0 * units;
                Optimizers.Adam.UpdatePiece(j->Step, scratch, j->W + at, j->M + at, j->V + at, count);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Backward(float[] input, float[]? inputGrad, int rows)
        {
            int units = Width;
            Span<float> dz = OutputDelta(rows);
            Gemm.Sgemm(true, false, inputs, units, rows, input.AsSpan(0, rows * inputs), inputs, dz, units, KernelGrad.Span, units);
            if (inputGrad != null)
                Gemm.Sgemm(false, true, rows, inputs, units, dz, units, layer.Kernel!.AsSpan(), units, inputGrad.AsSpan(0, rows * inputs), inputs);
        }
    }

    /// <summary>Conv2D on NHWC rows (each row one image, so rows are the batch): the same span kernels as
    /// <see cref="ConvOp"/>, in the same order, on buffers made once.</summary>
    private sealed class ConvStage(Conv2D layer, Window2D window, int inputs) : Stage
    {
        public Tensor KernelGrad = null!, BiasGrad = null!;
        // The im2col matrix, kept from forward to backward (the tape path rebuilds it to hold less memory; here the
        // buffer is made once, and skipping the rebuild saves ~0.7 ms a step for the Fashion-MNIST CNN).
        private readonly float[] cols = new float[window.Rows * window.Patch];

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Forward(float[] input, int rows)
        {
            var w = window with { N = rows };
            ConvOp.Forward(input.AsSpan(0, rows * inputs), layer.Kernel!.AsSpan(), layer.Bias == null ? default : layer.Bias.AsSpan(),
                w, layer.Activation, layer.Filters, Output.AsSpan(0, rows * Width), cols);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Backward(float[] input, float[]? inputGrad, int rows)
        {
            var w = window with { N = rows };
            Span<float> dz = OutputGrad.AsSpan(0, rows * Width);
            layer.Activation.BackwardInPlace(dz, Output.AsSpan(0, rows * Width), layer.Filters);
            Span<float> dx = default;
            if (inputGrad != null)
            {
                dx = inputGrad.AsSpan(0, rows * inputs);
                dx.Clear();
            }
            ConvOp.BackwardCore(input.AsSpan(0, rows * inputs), layer.Kernel!.AsSpan(), dz, w, layer.Filters, KernelGrad.Span,
                layer.Bias == null ? default : BiasGrad.Span, dx, cols.AsSpan(0, w.Rows * w.Patch));
        }
    }

    /// <summary>MaxPooling2D or AveragePooling2D on NHWC rows, with <see cref="PoolOp"/>'s kernels.</summary>
    private sealed class PoolStage(bool max, Window2D window, int inputs) : Stage
    {
        public override void Forward(float[] input, int rows)
        {
            var w = window with { N = rows };
            if (max) PoolKernel.MaxForward(input.AsSpan(0, rows * inputs), w, Output.AsSpan(0, rows * Width));
            else PoolKernel.AverageForward(input.AsSpan(0, rows * inputs), w, Output.AsSpan(0, rows * Width));
        }

        public override void Backward(float[] input, float[]? inputGrad, int rows)
        {
            if (inputGrad == null) return;
            var w = window with { N = rows };
            Span<float> dx = inputGrad.AsSpan(0, rows * inputs);
            dx.Clear();
            if (max) PoolKernel.MaxBackward(input.AsSpan(0, rows * inputs), Output.AsSpan(0, rows * Width), OutputGrad.AsSpan(0, rows * Width), w, dx);
            else PoolKernel.AverageBackward(OutputGrad.AsSpan(0, rows * Width), w, dx);
        }
    }

    /// <summary>An Activation layer. After a BatchNormalization it works in place on that stage's buffers (whose
    /// backward reads neither its output nor, once this has run, the gradient before the activation), saving a copy
    /// each way. Its rows are the sample's last axis, as on the tape (softmax after a Conv2D normalises each pixel's
    /// channels, not the whole image).</summary>
    private sealed class ActivationStage(ActivationFunction function, int rowLength) : Stage
    {
        public override void Forward(float[] input, int rows)
        {
            if (input != Output) input.AsSpan(0, rows * Width).CopyTo(Output);
            function.ApplyInPlace(Output.AsSpan(0, rows * Width), rowLength);
        }

        public override void Backward(float[] input, float[]? inputGrad, int rows)
        {
            Span<float> g = OutputGrad.AsSpan(0, rows * Width);
            function.BackwardInPlace(g, Output.AsSpan(0, rows * Width), rowLength);
            if (inputGrad != null && inputGrad != OutputGrad) g.CopyTo(inputGrad);
        }
    }

    private sealed class DropoutStage(Dropout layer) : Stage
    {
        public float[] Mask = [];

        public override void Forward(float[] input, int rows)
        {
            int n = rows * Width;
            layer.FillMask(Mask.AsSpan(0, n));
            TensorPrimitives.Multiply(input.AsSpan(0, n), Mask.AsSpan(0, n), Output.AsSpan(0, n));
        }

        public override void Backward(float[] input, float[]? inputGrad, int rows)
        {
            int n = rows * Width;
            if (inputGrad != null) TensorPrimitives.Multiply(OutputGrad.AsSpan(0, n), Mask.AsSpan(0, n), inputGrad.AsSpan(0, n));
        }
    }

    private sealed class NormalizationStage(Normalization layer) : Stage
    {
        private readonly float[] std = new float[layer.MeanWeight!.Size];

        public override void Forward(float[] input, int rows)
        {
            // As Normalization.CallCore: (x − mean) / max(√variance, ε), row by row.
            TensorPrimitives.Sqrt(layer.VarianceWeight!.AsSpan(), std);
            TensorPrimitives.Max(std, Normalization.Epsilon, std);
            ReadOnlySpan<float> mean = layer.MeanWeight!.AsSpan();
            for (int r = 0; r < rows; r++)
            {
                var o = Output.AsSpan(r * Width, Width);
                TensorPrimitives.Subtract(input.AsSpan(r * Width, Width), mean, o);
                TensorPrimitives.Divide(o, std, o);
            }
        }

        public override void Backward(float[] input, float[]? inputGrad, int rows) { } // only allowed before any weight
    }

    /// <summary>
    /// BatchNormalization on the last axis (channels last), with <see cref="BatchNormOp"/>'s kernels on buffers made
    /// once. A trainable layer normalises with the batch's statistics, updates its moving averages and learns γ and β;
    /// a frozen one (fine-tuning) normalises with its moving statistics and only passes the gradient through, as Keras.
    /// </summary>
    private sealed class BatchNormStage(BatchNormalization layer, int channels) : Stage
    {
        private readonly bool training = layer.Trainable;
        public Tensor? GammaGrad, BetaGrad;
        private readonly float[] mean = new float[channels], variance = new float[channels], invStd = new float[channels],
            scale = new float[channels], shift = new float[channels], k = new float[channels],
            meanG = new float[channels], meanGx = new float[channels];
        private readonly double[] sumG = new double[channels], sumGx = new double[channels], scratch = new double[4 * channels];

        private ReadOnlySpan<float> Gamma => layer.Gamma == null ? default : layer.Gamma.AsSpan();

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Forward(float[] input, int rows)
        {
            int n = rows * Width, outer = n / channels;
            ReadOnlySpan<float> x = input.AsSpan(0, n);
            if (training)
            {
                BatchNormOp.Moments(x, outer, channels, 1, mean, variance, scratch);
                BatchNormOp.InverseStd(variance, layer.Epsilon, invStd);
            }
            else
            {
                layer.MovingMean!.AsSpan().CopyTo(mean);
                BatchNormOp.InverseStd(layer.MovingVariance!.AsSpan(), layer.Epsilon, invStd);
            }
            BatchNormOp.ScaleAndShift(mean, invStd, Gamma, layer.Beta == null ? default : layer.Beta.AsSpan(), scale, shift);
            BatchNormOp.Normalize(x, outer, channels, 1, scale, shift, Output.AsSpan(0, n));
            if (training) layer.UpdateMovingStatistics(mean, variance);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Backward(float[] input, float[]? inputGrad, int rows)
        {
            int n = rows * Width;
            if (!training && inputGrad == null) return; // nothing to learn here and nothing to pass on
            BatchNormOp.BackwardCore(input.AsSpan(0, n), OutputGrad.AsSpan(0, n), n / channels, channels, 1, mean, invStd, Gamma,
                training, inputGrad == null ? default : inputGrad.AsSpan(0, n), sumG, sumGx, scratch, k, meanG, meanGx);
            if (GammaGrad != null)
                for (int c = 0; c < channels; c++) GammaGrad.Span[c] = (float)sumGx[c];
            if (BetaGrad != null)
                for (int c = 0; c < channels; c++) BetaGrad.Span[c] = (float)sumG[c];
        }
    }

    private readonly Model model;
    private readonly List<Stage> stages = [];
    private int firstTrainable; // set while stages are built (AddWeights), fixed after
    private readonly int inputWidth, labelWidth, batch;
    private readonly float[] xBuffer, yBuffer;
    private readonly int gatherSplit; // where the first Dense's GEMM cuts k between two cores (0: no cut)
    private readonly List<Tensor?> gradients = [];
    private readonly List<Tensor?> gradientsButFirstKernel; // the first kernel's entry null: updated piecewise (DenseStage.BackwardAndUpdate)
    private readonly List<Variable> variables = [];
    private readonly Tensor yFull, predFull;
    private Tensor? yTail, predTail;
    private readonly List<Metric> metrics;

    private FusedTrainStep(Model model, int[] sampleShape, int inputWidth, int labelWidth, int batch, List<Metric> metrics)
    {
        this.model = model;
        this.inputWidth = inputWidth;
        this.labelWidth = labelWidth;
        this.batch = batch;
        this.metrics = metrics;
        xBuffer = new float[batch * inputWidth];
        gatherSplit = model.Layers.FirstOrDefault(l => l is not Input) is Dense ? Gemm.SplitKColumn(inputWidth) : 0;
        yBuffer = new float[batch * labelWidth];
        int width = inputWidth;
        int[] sample = sampleShape;
        firstTrainable = -1;
        foreach (var layer in model.Layers)
        {
            int[] next = layer is Input ? sample : [.. layer.ComputeOutputShape([-1, .. sample])[1..]];
            int outWidth = next.Aggregate(1, (a, b) => a * b);
            Stage? stage = layer switch
            {
                Dense d => new DenseStage(d, width) { Width = d.Units },
                Conv2D c => new ConvStage(c, c.Window([batch, .. sample]), width) { Width = outWidth },
                MaxPooling2D p => new PoolStage(true, p.Window([batch, .. sample]), width) { Width = outWidth },
                AveragePooling2D p => new PoolStage(false, p.Window([batch, .. sample]), width) { Width = outWidth },
                Layers.Activation a => new ActivationStage(a.Function, sample[^1]) { Width = width },
                Dropout d => new DropoutStage(d) { Width = width, Mask = new float[batch * width] },
                Normalization n => new NormalizationStage(n) { Width = width },
                BatchNormalization b => new BatchNormStage(b, sample[^1]) { Width = width },
                _ => null, // Input, Flatten, Reshape: a sample is one row whatever its shape
            };
            sample = next;
            if (stage == null) continue;
            if (stage is ActivationStage && stages.Count > 0 && stages[^1] is BatchNormStage previous)
                (stage.Output, stage.OutputGrad) = (previous.Output, previous.OutputGrad);
            else
            {
                stage.Output = new float[batch * stage.Width];
                stage.OutputGrad = new float[batch * stage.Width];
            }
            if (stage is DenseStage ds) (ds.KernelGrad, ds.BiasGrad) = AddWeights(((Dense)layer).Kernel!, ((Dense)layer).Bias);
            if (stage is ConvStage cs) (cs.KernelGrad, cs.BiasGrad) = AddWeights(((Conv2D)layer).Kernel!, ((Conv2D)layer).Bias);
            if (stage is BatchNormStage bs && layer.Trainable)
                (bs.GammaGrad, bs.BetaGrad) = (AddWeight(((BatchNormalization)layer).Gamma), AddWeight(((BatchNormalization)layer).Beta));
            stages.Add(stage);
            width = stage.Width;
        }
        gradientsButFirstKernel = [null, .. gradients.Skip(1)];
        // Slots made now rather than at the first ApplyGradients, so the first step can already update piecewise.
        model.Optimizer!.Build(variables);
        yFull = new Tensor(yBuffer, labelWidth == 1 ? [batch] : [batch, labelWidth]);
        predFull = new Tensor(stages[^1].Output, [batch, stages[^1].Width]);
    }

    /// <summary>Registers a layer's kernel and bias with the optimizer step and makes their gradient buffers, in the
    /// tape path's variable order (kernel, then bias); the first weighted stage is where backward stops.</summary>
    private (Tensor KernelGrad, Tensor BiasGrad) AddWeights(Variable kernel, Variable? bias) => (AddWeight(kernel)!, AddWeight(bias)!);

    /// <summary>Registers one trainable weight (none when null) and makes its gradient buffer.</summary>
    private Tensor? AddWeight(Variable? weight)
    {
        if (weight == null) return null;
        if (firstTrainable < 0) firstTrainable = stages.Count;
        var grad = Tensor.Zeros(weight.ShapeRef);
        variables.Add(weight);
        gradients.Add(grad);
        return grad;
    }

    /// <summary>A fused step for this model and data, or null when the model needs the general tape path.</summary>
    public static FusedTrainStep? TryCreate(Model model, Tensor x, Tensor y, int batchSize, List<Metric> metrics)
    {
        if (x.Rank < 2 || y.Rank > 2) return null;
        int rows = x.ShapeRef[0];
        int inputWidth = x.Size / rows, labelWidth = y.Size / rows;
        // Dense works on flat rows (a Dense on a rank-3+ input works on its last axis: the tape path); Conv2D and
        // pooling on one NHWC image per row. The sample's shape is followed layer by layer to tell which is which.
        int[] sample = x.ShapeRef[1..];
        int trainableCount = 0;
        bool trainableSeen = false;
        foreach (var layer in model.Layers)
        {
            if (layer is Input) continue;
            switch (layer)
            {
                case Dense d when d.Trainable && d.KernelRegularizer == null && d.BiasRegularizer == null && d.Activation.DerivativeFromOutput:
                    if (sample.Length != 1 || d.Kernel!.ShapeRef[0] != sample[0]) return null;
                    trainableSeen = true;
                    trainableCount += d.UseBias ? 2 : 1;
                    break;
                case Conv2D c when c.Trainable && c.KernelRegularizer == null && c.BiasRegularizer == null && c.Activation.DerivativeFromOutput:
                    if (sample.Length != 3 || c.Kernel!.ShapeRef[2] != sample[2]) return null;
                    trainableSeen = true;
                    trainableCount += c.UseBias ? 2 : 1;
                    break;
                case BatchNormalization b when b.NormalizesLastAxis(sample.Length + 1):
                    int weights = b.Trainable ? (b.Scale ? 1 : 0) + (b.Center ? 1 : 0) : 0; // frozen: inference mode
                    trainableSeen |= weights > 0;
                    trainableCount += weights;
                    break;
                case MaxPooling2D or AveragePooling2D:
                    if (sample.Length != 3) return null;
                    break;
                case Flatten or Reshape or Dropout: // Flatten and Reshape leave the rows as they are
                case Layers.Activation a when a.Function.DerivativeFromOutput:
                case Normalization when !trainableSeen && x.Rank == 2: // fixed preprocessing: no gradient needed through it
                    break;
                default:
                    return null;
            }
            sample = [.. layer.ComputeOutputShape([-1, .. sample])[1..]];
        }
        if (!trainableSeen || trainableCount != model.TrainableVariables.Count || sample.Length != 1) return null;
        int width = sample[0];
        // The loss must have a fused kernel for this label layout (probed on one row).
        if (!model.Loss!.TryFused(y.AsSpan()[..labelWidth], new float[width], 1, width, new float[width], out _)) return null;
        return new FusedTrainStep(model, x.ShapeRef[1..], inputWidth, labelWidth, Math.Min(batchSize, rows), metrics);
    }

    /// <summary>The tape path's order of trainable variables, which the optimizer's slots follow.</summary>
    public IReadOnlyList<Variable> Variables => variables;

    private unsafe struct GatherJob
    {
        public float* Source, Destination;
        public int* Rows;
        public int Count, Width;
    }

    /// <summary>Copies columns [lo, hi) of the listed rows of the data into the input buffer.</summary>
    private static unsafe void GatherColumns(void* state, int lo, int hi)
    {
        var job = (GatherJob*)state;
        nint width = job->Width;
        for (int i = 0; i < job->Count; i++)
            new ReadOnlySpan<float>(job->Source + job->Rows[i] * width + lo, hi - lo).CopyTo(new Span<float>(job->Destination + i * width + lo, hi - lo));
    }

    /// <summary>
    /// Gathers a shuffled batch into the input buffer. When the first layer's GEMM splits k across two cores, each core
    /// copies the columns it will multiply (the same cut), so that half of the batch is already in its own cache;
    /// otherwise this thread copies whole rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void GatherRows(ReadOnlySpan<float> xs, ReadOnlySpan<int> rows, int count)
    {
        fixed (float* source = xs, destination = xBuffer)
        fixed (int* rowList = rows)
        {
            var job = new GatherJob { Source = source, Destination = destination, Rows = rowList, Count = count, Width = inputWidth };
            if (gatherSplit > 0)
            {
                Span<int> bounds = [0, gatherSplit, inputWidth];
                if (GemmThreads.TryRunRanges(&GatherColumns, &job, bounds)) return;
            }
            GatherColumns(&job, 0, inputWidth);
        }
    }

    /// <summary>Runs one step on the rows of <paramref name="x"/>/<paramref name="y"/> listed in <paramref name="rows"/>
    /// (or, when null, the contiguous rows from <paramref name="start"/>). Returns the batch loss; with
    /// <paramref name="skipUpdateIfNotFinite"/> a NaN or infinite loss is returned before anything is updated.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public float Step(Tensor x, Tensor y, ReadOnlySpan<int> rows, int start, int count, bool skipUpdateIfNotFinite = false)
    {
        // Gather the batch into the input and label buffers.
        ReadOnlySpan<float> xs = x.AsSpan(), ys = y.AsSpan();
        if (rows.IsEmpty)
        {
            xs.Slice(start * inputWidth, count * inputWidth).CopyTo(xBuffer);
            ys.Slice(start * labelWidth, count * labelWidth).CopyTo(yBuffer);
        }
        else
        {
            for (int i = 0; i < count; i++)
                ys.Slice(rows[i] * labelWidth, labelWidth).CopyTo(yBuffer.AsSpan(i * labelWidth));
            GatherRows(xs, rows, count);
        }

        float[] input = xBuffer;
        foreach (var stage in stages)
        {
            stage.Forward(input, count);
            input = stage.Output;
        }
        var last = stages[^1];
        model.Loss!.TryFused(yBuffer.AsSpan(0, count * labelWidth), last.Output.AsSpan(0, count * last.Width), count, last.Width,
            last.OutputGrad.AsSpan(0, count * last.Width), out float loss);
        if (skipUpdateIfNotFinite && !float.IsFinite(loss)) return loss;

        bool piecewise = false;
        for (int i = stages.Count - 1; i >= firstTrainable; i--)
        {
            float[] stageInput = i == 0 ? xBuffer : stages[i - 1].Output;
            float[]? inputGrad = i > firstTrainable ? stages[i - 1].OutputGrad : null;
            if (i == firstTrainable && stages[i] is DenseStage first && variables.Count > 1 && model.Optimizer is Optimizers.Adam adam
                && adam.TryBeginPieces(variables[0], out var m, out var v, out var step))
            {
                first.BackwardAndUpdate(stageInput, count, step, m, v, Gemm.SplitKColumn(first.Inputs));
                piecewise = true;
            }
            else stages[i].Backward(stageInput, inputGrad, count);
        }
        model.Optimizer!.ApplyGradients(piecewise ? gradientsButFirstKernel : gradients, variables);

        if (metrics.Count > 0)
        {
            Tensor yt, pt;
            if (count == batch) (yt, pt) = (yFull, predFull); // these wrap the step's own buffers
            else
            {
                // The one short batch at the end of an epoch gets tensors of its own size (made once).
                if (yTail == null || yTail.ShapeRef[0] != count)
                {
                    yTail = new Tensor(new float[count * labelWidth], labelWidth == 1 ? [count] : [count, labelWidth]);
                    predTail = new Tensor(new float[count * last.Width], [count, last.Width]);
                }
                yBuffer.AsSpan(0, count * labelWidth).CopyTo(yTail.Span);
                last.Output.AsSpan(0, count * last.Width).CopyTo(predTail!.Span);
                (yt, pt) = (yTail, predTail);
            }
            foreach (var m in metrics) m.UpdateState(yt, pt);
        }
        return loss;
    }
}
