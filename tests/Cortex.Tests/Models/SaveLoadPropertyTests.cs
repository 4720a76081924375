using System.Text;
using Cortex.Initializers;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Saving;
using CsCheck;
using static Cortex.Tests.Models.SaveLoadCheck;

namespace Cortex.Tests.Models;

/// <summary>
/// Random tiny models driven through random sequences of compile, fit, freeze, unfreeze, add and save → load: every
/// file loads, and the loaded copies, put through the same steps as the original, stay identical to it bit for bit —
/// predictions, weights and optimizer state.
/// </summary>
public class SaveLoadPropertyTests
{
    private enum Op { Compile, Fit, Freeze, Unfreeze, Add, SaveLoad }

    /// <summary>One step: <see cref="A"/> and <see cref="B"/> choose the optimizer and loss, the layer, or the kind of layer.</summary>
    private readonly record struct Step(Op Op, int A, int B);

    /// <summary>A model family (0 dense, 1 dense after Normalization, 2 convolutional), its sizes and hidden layers, and the steps.</summary>
    private sealed record Case(int Seed, int Family, int Features, int Rows, int Outputs, int[] Hidden, Step[] Steps)
    {
        public override string ToString()
        {
            var b = new StringBuilder($"seed {Seed}, family {Family}, {Rows}×{Features} → {Outputs}, hidden [{string.Join(", ", Hidden)}]; ");
            b.AppendJoin(", ", Steps.Select(s => $"{s.Op}({s.A}, {s.B})"));
            return b.ToString();
        }
    }

    private static readonly Func<Optimizer>[] Optimizers =
    [
        () => new SGD(0.05f),
        () => new SGD(0.05f, momentum: 0.9f),
        () => new SGD(0.05f, momentum: 0.9f, nesterov: true),
        () => new Adam(0.01f),
        () => new Adam(0.01f, amsgrad: true, clipNorm: 1f),
        () => new AdamW(0.01f),
        () => new RMSprop(0.01f),
        () => new RMSprop(0.01f, momentum: 0.5f, centered: true, globalClipNorm: 1f),
    ];

    private static readonly string[] Activations = ["relu", "tanh", "sigmoid", "linear"];

    private static readonly Gen<Step> GenStep = Gen.Frequency(
        (3, Gen.Select(Gen.Int[0, Optimizers.Length - 1], Gen.Int[0, 5], (a, b) => new Step(Op.Compile, a, b))),
        (5, Gen.Int[0, 1].Select(a => new Step(Op.Fit, a, 0))),
        (1, Gen.Int[0, 7].Select(a => new Step(Op.Freeze, a, 0))),
        (1, Gen.Int[0, 7].Select(a => new Step(Op.Unfreeze, a, 0))),
        (1, Gen.Int[0, 3].Select(a => new Step(Op.Add, a, 0))),
        (2, Gen.Const(new Step(Op.SaveLoad, 0, 0))));

    private static readonly Gen<Case> GenCase = Gen.Select(
        Gen.Int[0, 1_000_000], Gen.Int[0, 2], Gen.Int[1, 3], Gen.Int[1, 4], Gen.Int[1, 2],
        Gen.Int[0, 5].Array[0, 2], GenStep.Array[1, 7],
        (seed, family, features, rows, outputs, hidden, steps) => new Case(seed, family, features, rows, outputs, hidden, steps));

    /// <summary>The loss for choice <paramref name="b"/> (categorical ones need two outputs; with one, binary instead).</summary>
    private static Loss MakeLoss(int b, int outputs) => (b, outputs) switch
    {
        (0, _) => new MeanSquaredError(),
        (1, _) => new MeanAbsoluteError(),
        (2, _) => new BinaryCrossentropy(fromLogits: true),
        (4, > 1) => new CategoricalCrossentropy(fromLogits: true),
        (5, > 1) => new SparseCategoricalCrossentropy(fromLogits: true),
        _ => new BinaryCrossentropy(),
    };

    /// <summary>Targets the loss accepts, derived from the inputs.</summary>
    private static Tensor Labels(Loss loss, Tensor x, int outputs)
    {
        int n = x.Shape[0];
        var s = x.Reshape(n, -1).Sum(1).ToArray();
        int Class(int i) => (int)MathF.Abs(s[i] * 3f) % outputs;
        var y = new float[n * outputs];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < outputs; j++)
                y[i * outputs + j] = loss switch
                {
                    MeanSquaredError or MeanAbsoluteError => s[i] * (j + 1) * 0.5f,
                    BinaryCrossentropy => (s[i] * (j + 1) > 0) ? 1 : 0,
                    _ => Class(i) == j ? 1 : 0,
                };
        if (loss is SparseCategoricalCrossentropy) return Tensor.FromArray([.. Enumerable.Range(0, n).Select(i => (float)Class(i))], n);
        return Tensor.FromArray(y, n, outputs);
    }

    // Layers get names from their place in the model: automatic names would count into the thousands here, and other
    // tests read names such as "max_pooling2d_1" from Summary tables whose column they would overflow.
    private static Layer Hidden(int kind, int units, string name) => kind switch
    {
        0 or 1 or 2 => new Dense(units, Activations[kind], name: name),
        3 => new Dropout(0.4f, name: name),
        4 => new BatchNormalization(name: name),
        _ => new Dropout(0.25f, seed: 5, name: name),
    };

    private static (Sequential Model, Tensor X) Build(Case c)
    {
        CortexRandom.SetGlobalSeed(c.Seed);
        var layers = new List<Layer>();
        Tensor x;
        if (c.Family == 2)
        {
            x = Tensor.RandomNormal([c.Rows, 3, 3, c.Features], seed: c.Seed);
            layers.Add(new Conv2D(c.Features, 2, activation: "relu", name: "conv"));
            if (c.Hidden.Length > 0) layers.Add(c.Hidden[0] % 2 == 0 ? new BatchNormalization(name: "bn") : new MaxPooling2D(2, name: "pool"));
            layers.Add(new Flatten("flatten"));
        }
        else
        {
            x = Tensor.RandomNormal([c.Rows, c.Features], seed: c.Seed);
            if (c.Family == 1)
            {
                var norm = new Normalization(name: "norm");
                norm.Adapt(x);
                layers.Add(norm);
            }
            layers.AddRange(c.Hidden.Select((h, i) => Hidden(h, 1 + (h + i) % 3, $"hidden_{i}")));
        }
        layers.Add(new Dense(c.Outputs, Activations[c.Seed % Activations.Length], name: "output"));
        var model = new Sequential([new Input(x.Shape[1..], "input"), .. layers], "case");
        return (model, x);
    }

    /// <summary>Applies one step to every replica (the original first); the loaded copies join the replicas.</summary>
    private static void Apply(Step step, int seed, List<Sequential> replicas, Tensor x, int outputs)
    {
        if (step.Op == Op.SaveLoad)
        {
            var loaded = (Sequential)RoundTripInMemory(replicas[^1]);
            AssertSamePredictions(replicas[0], loaded, x);
            replicas.Add(loaded);
            return;
        }
        var refused = new List<bool>();
        foreach (var m in replicas)
        {
            CortexRandom.SetGlobalSeed(seed); // shuffling, unseeded dropout and initializers draw alike on every replica
            switch (step.Op)
            {
                case Op.Compile:
                    m.Compile(Optimizers[step.A](), MakeLoss(step.B, outputs));
                    break;
                case Op.Fit when m.Optimizer != null && m.TrainableVariables.Count > 0:
                    int rows = x.Shape[0];
                    try
                    {
                        m.Fit(x, Labels(m.Loss!, x, outputs), epochs: 1, batchSize: step.A == 0 ? rows : Math.Max(1, rows / 2), verbose: 0);
                        refused.Add(false);
                    }
                    catch (NotFiniteNumberException)
                    {
                        // Fit refuses a first batch whose loss overflows, before any update (a training guard); a
                        // loaded copy must refuse it too, and stay as it was.
                        refused.Add(true);
                    }
                    break;
                case Op.Freeze:
                    m.Layers[step.A % m.Layers.Count].Trainable = false;
                    break;
                case Op.Unfreeze:
                    m.Layers[step.A % m.Layers.Count].Trainable = true;
                    break;
                case Op.Add:
                    string name = $"added_{m.Layers.Count}";
                    m.Add(step.A switch
                    {
                        0 => new Dense(outputs, "tanh", kernelInitializer: new GlorotUniform(seed: seed), name: name),
                        1 => new Dropout(0.3f, name: name),
                        2 => new BatchNormalization(name: name),
                        _ => new Dense(outputs, name: name),
                    });
                    break;
            }
        }
        Assert.True(refused.Distinct().Count() <= 1, $"Fit refused a non-finite loss on some replicas but not others: {string.Join(", ", refused)}");
    }

    private static Model RoundTripInMemory(Model model)
    {
        using var stream = new MemoryStream();
        ModelFile.Write(model, stream);
        return ModelFile.Load(stream.ToArray(), "memory");
    }

    private static int runs;

    private static void Run(Case c)
    {
        Interlocked.Increment(ref runs);
        var (model, x) = Build(c);
        var replicas = new List<Sequential> { model };
        for (int i = 0; i < c.Steps.Length; i++) Apply(c.Steps[i], c.Seed + i, replicas, x, c.Outputs);
        // Always end with a save → load and one more training step on every replica.
        Apply(new Step(Op.SaveLoad, 0, 0), 0, replicas, x, c.Outputs);
        Apply(new Step(Op.Fit, 0, 0), c.Seed - 1, replicas, x, c.Outputs);
        AssertSameState(replicas, x);
    }

    [Fact]
    public void AnySequenceOfCompileFitFreezeAddAndSave_LoadsAndContinuesBitForBit()
    {
        // A fixed seed keeps CI deterministic (it is the one that first found a refused Fit); explore other cases by
        // running with the environment variable CsCheck_Seed unset and this seed removed.
        runs = 0;
        GenCase.Sample(Run, seed: "1K3V6hsrut31", iter: 10_000, print: c => c.ToString());
        Assert.True(runs >= 9_000, $"only {runs} generated cases ran");
    }
}
