using System.Numerics.Tensors;

[assembly: Cortex.Saving.Registered(typeof(Cortex.Layers.GaussianNoise))]

namespace Cortex.Layers;

/// <summary>
/// Adds zero-mean normal noise of standard deviation <c>stddev</c> to every input during training, as
/// <c>keras.layers.GaussianNoise</c> — a regulariser, and a way to make a model robust to small input changes. In
/// inference it does nothing; the gradient passes through unchanged.
/// </summary>
/// <example><code>var model = new Sequential(new Input([784]), new GaussianNoise(0.1f), new Dense(64, "relu"), new Dense(10));</code></example>
public sealed class GaussianNoise : Layer
{
    private readonly CortexRandom rng;

    /// <summary>Creates the layer.</summary>
    /// <param name="stddev">Standard deviation of the noise, in [0, 1] as Keras requires.</param>
    /// <param name="seed">Seed of the noise; the global seed's next when null.</param>
    /// <param name="name">Layer name; <c>gaussian_noise</c>, … when null.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="stddev"/> is outside [0, 1].</exception>
    public GaussianNoise(float stddev, int? seed = null, string? name = null) : base(name)
    {
        if (!(stddev >= 0f && stddev <= 1f))
            throw new ArgumentOutOfRangeException(nameof(stddev), $"GaussianNoise: stddev must be in [0, 1]. Received: stddev={stddev}");
        Stddev = stddev;
        Seed = seed;
        rng = CortexRandom.FromSeedOrGlobal(seed);
    }

    /// <summary>Standard deviation of the noise.</summary>
    public float Stddev { get; }

    /// <summary>The seed, if one was given.</summary>
    public int? Seed { get; }

    /// <inheritdoc/>
    protected override Tensor CallCore(Tensor inputs, bool training) =>
        training && Stddev > 0f ? StageOp.Run(this, inputs, training) : inputs;

    /// <inheritdoc/>
    internal override CortexRandom? Generator => rng;

    /// <inheritdoc/>
    internal override bool TryCreateStage(StageContext context, out Stage? stage, out string reason)
    {
        reason = "";
        stage = new NoiseStage(rng, Stddev, context.Training) { Width = context.InputWidth };
        return true;
    }

    /// <summary>y = x + noise drawn at every training forward; the gradient is the output's.</summary>
    private sealed class NoiseStage(CortexRandom rng, float stddev, bool training) : Stage
    {
        public override void Forward(float[] input, int rows)
        {
            int n = rows * Width;
            if (!training) { input.AsSpan(0, n).CopyTo(Output); return; }
            rng.FillNormal(Output.AsSpan(0, n), 0f, stddev);
            TensorPrimitives.Add(input.AsSpan(0, n), Output.AsSpan(0, n), Output.AsSpan(0, n));
        }

        public override void Backward(float[] input, float[]? inputGrad, int rows)
        {
            if (inputGrad != null) OutputGrad.AsSpan(0, rows * Width).CopyTo(inputGrad);
        }
    }
}
