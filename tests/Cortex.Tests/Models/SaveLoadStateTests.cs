using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using static Cortex.Tests.Models.SaveLoadCheck;

namespace Cortex.Tests.Models;

/// <summary>
/// Every state <see cref="Model.Save"/> accepts loads back to the same predictions and the same next training step
/// (issue 11): the optimizer's slots follow the variables they belong to, not the trainable list at load time.
/// </summary>
public class SaveLoadStateTests
{
    private static readonly Tensor X = Tensor.RandomNormal([12, 3], seed: 4);
    private static readonly Tensor Y = X.Sum(1) > 0f;

    private static Sequential Model(Optimizer optimizer)
    {
        CortexRandom.SetGlobalSeed(3);
        var m = new Sequential(new Input([3]), new Dense(4, "tanh"), new Dense(3, "relu"), new Dense(1, "sigmoid"));
        m.Compile(optimizer, new BinaryCrossentropy());
        return m;
    }

    private static Sequential Trained(Optimizer optimizer)
    {
        var m = Model(optimizer);
        CortexRandom.SetGlobalSeed(5);
        m.Fit(X, Y, epochs: 2, batchSize: 4, verbose: 0);
        return m;
    }

    public static TheoryData<string> Optimizers => ["adam", "rmsprop", "sgd-momentum", "adamw", "adagrad-weight-decay", "nadam-ema", "lion"];

    private static Optimizer Make(string name) => name switch
    {
        "adam" => new Adam(0.01f),
        "adamw" => new AdamW(0.01f),
        "rmsprop" => new RMSprop(0.01f, momentum: 0.5f, centered: true),
        "sgd-momentum" => new SGD(0.05f, momentum: 0.9f),
        "adagrad-weight-decay" => new Adagrad(0.1f, weightDecay: 0.1f),
        "nadam-ema" => new Nadam(0.01f, useEma: true, emaMomentum: 0.5f, emaOverwriteFrequency: 3),
        "lion" => new Lion(0.001f),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void CompiledButNotTrained_LoadsAndContinues(string optimizer)
    {
        var m = Model(Make(optimizer));
        var loaded = AssertRoundTripContinues(m, X, Y);
        Assert.Equal(1L, loaded.Optimizer!.Iterations);
    }

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void TrainedThenLayerFrozen_LoadsAndContinues_AndUnfreezingKeepsTheSlots(string optimizer)
    {
        var m = Trained(Make(optimizer));
        m.Layers[1].Trainable = false;
        var loaded = AssertRoundTripContinues(m, X, Y);
        Assert.False(loaded.Layers[1].Trainable);
        // The frozen layer's momenta were saved with it: unfreezing continues as the original does.
        m.Layers[1].Trainable = true;
        loaded.Layers[1].Trainable = true;
        AssertSameNextStep([m, loaded], X, Y);
    }

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void TrainedThenRecompiled_LoadsAndContinues(string optimizer)
    {
        var m = Trained(Make(optimizer));
        m.Compile(Make(optimizer), new BinaryCrossentropy());
        var loaded = AssertRoundTripContinues(m, X, Y);
        Assert.Equal(1L, loaded.Optimizer!.Iterations);
    }

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void TrainedThenLayerAdded_LoadsAndContinues(string optimizer)
    {
        var m = Trained(Make(optimizer));
        m.Add(new Dense(1, "sigmoid", kernelInitializer: new Initializers.GlorotUniform(seed: 9)));
        AssertRoundTripContinues(m, X, Y);
    }

    [Fact]
    public void TrainedWithDropout_ContinuesWithTheSameMasks()
    {
        // The dropout generator's position is saved: a reloaded model draws the masks the original draws next.
        CortexRandom.SetGlobalSeed(3);
        var m = new Sequential(new Input([3]), new Dense(6, "relu"), new Dropout(0.5f), new Dense(1, "sigmoid"));
        m.Compile(new Adam(0.01f), new BinaryCrossentropy());
        m.Fit(X, Y, epochs: 2, batchSize: 4, verbose: 0);
        AssertRoundTripContinues(m, X, Y);
    }

    [Fact]
    public void Uncompiled_LoadsUncompiled()
    {
        CortexRandom.SetGlobalSeed(3);
        var m = new Sequential(new Input([3]), new Dense(2));
        var loaded = RoundTrip(m);
        Assert.Null(loaded.Optimizer);
        AssertSamePredictions(m, loaded, X);
    }

    private static readonly Tensor Format1X = Tensor.FromArray(new float[,] { { 0.5f, -1f }, { 1.5f, 2f }, { -0.25f, 0.75f }, { 2f, -2f } });

    /// <summary>Files written by format 1 (fixtures saved by the code before format 2, with their predictions' bits).</summary>
    [Theory]
    [InlineData("v1-adam-trained", 6L, 1 + 2 * 4)] // restored as before: the slots were the trainable weights'
    [InlineData("v1-adam-compiled", 0L, 1)]        // refused by format-1 readers ("expected 9 tensors … Received: 1")
    [InlineData("v1-adam-frozen", 0L, 1)]          // slots that no longer match the trainable weights: a fresh optimizer
    public void Format1Files_StillLoad(string name, long iterations, int optimizerTensors)
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "fixtures");
        var m = Cortex.Models.Model.Load(Path.Combine(dir, name + ".cortex"));
        float[] expected = [.. File.ReadAllLines(Path.Combine(dir, name + ".txt")).Select(l => BitConverter.Int32BitsToSingle(int.Parse(l)))];
        var predicted = m.Predict(Format1X).ToArray();
        Assert.Equal(expected.Length, predicted.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], predicted[i], 1e-6f);
        Assert.Equal(iterations, m.Optimizer!.Iterations);
        Assert.Equal(optimizerTensors, m.Optimizer.Variables.Count);
        Assert.All(m.Optimizer.Variables.Skip(1), slot => Assert.Contains(slot.ToArray(), v => v != 0));
        m.Fit(Format1X, Tensor.FromArray(new float[] { 1, 0, 1, 0 }), verbose: 0);
        Assert.Equal(iterations + 1, m.Optimizer.Iterations);
    }

    private sealed class Doubling() : Layer(null)
    {
        protected override Tensor CallCore(Tensor inputs, bool training) => inputs * 2f;
    }

    private sealed class Halves : Initializers.Initializer
    {
        public override Tensor Call(int[] shape) => Tensor.Full(shape, 0.5f);
    }

    private sealed class SlowAdam() : Adam(1e-4f);

    [Fact]
    public void ClassesLoadCannotRebuild_AreRefusedBySave_NotLaterByLoad()
    {
        string dir = Directory.CreateTempSubdirectory("cortex-saveload-").FullName;
        string path = Path.Combine(dir, "model.cortex");
        try
        {
            var custom = new Sequential(new Input([3]), new Doubling(), new Dense(1));
            var e = Assert.Throws<NotSupportedException>(() => custom.Save(path));
            Assert.Contains($"Model '{custom.Name}' cannot be saved: its layer '{custom.Layers[1].Name}' is of class", e.Message);
            Assert.Contains("Doubling", e.Message);

            var initialized = new Sequential(new Input([3]), new Dense(1, kernelInitializer: new Halves()));
            e = Assert.Throws<NotSupportedException>(() => initialized.Save(path));
            Assert.Contains("kernel_initializer is of class 'Halves'", e.Message);

            var optimized = new Sequential(new Input([3]), new Dense(1));
            optimized.Compile(new SlowAdam(), new MeanSquaredError());
            e = Assert.Throws<NotSupportedException>(() => optimized.Save(path));
            Assert.Contains("its optimizer is of class", e.Message);
            Assert.Empty(Directory.GetFiles(dir));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
