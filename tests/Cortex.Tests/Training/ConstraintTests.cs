using System.Text.Json;
using Cortex.Constraints;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Tests.Data;
using Cortex.Tests.Reference;

namespace Cortex.Tests.Training;

/// <summary>
/// Weight constraints: Keras's formulas (tests/reference/make_constraint_reference.py), read back from their saved
/// configurations; applied by every optimizer after its update, on the tape and the fused step alike; saved with the
/// layer; bad arguments refused.
/// </summary>
public class ConstraintTests
{
    public static TheoryData<string> Cases => ReferenceData.Names("constraints.json");

    [Theory]
    [MemberData(nameof(Cases))]
    public void ConstraintsComputeKerasFormulas(string name)
    {
        var c = ReferenceData.Cases("constraints.json")[name];
        var constraint = Constraint.FromConfig(c.GetProperty("class_name").GetString()!, c.GetProperty("config"));
        var w = ReferenceData.ToTensor(c.GetProperty("weights"));
        var before = w.ToArray();
        ReferenceData.AssertClose(ReferenceData.ToTensor(c.GetProperty("output")), constraint.Call(w), name);
        Assert.Equal(before, w.ToArray());   // Call returns a copy
    }

    [Fact]
    public void GetResolvesKerasNamesWithKerasDefaults()
    {
        var max = Assert.IsType<MaxNorm>(Constraint.Get("max_norm"));
        Assert.Equal(2f, max.MaxValue);
        Assert.Equal([0], max.Axis);
        var mm = Assert.IsType<MinMaxNorm>(Constraint.Get("min_max_norm"));
        Assert.Equal((0f, 1f, 1f), (mm.MinValue, mm.MaxValue, mm.Rate));
        Assert.IsType<NonNeg>(Constraint.Get("non_neg"));
        Assert.IsType<UnitNorm>(Constraint.Get("unit_norm"));
        var e = Assert.Throws<ArgumentException>(() => Constraint.Get("max"));
        Assert.Contains("Unknown constraint 'max'", e.Message);
    }

    [Fact]
    public void BadArgumentsAreRefusedNamingThem()
    {
        Assert.Equal("MaxNorm: max_value must be a non-negative finite number. Received: max_value=-1 (Parameter 'max_value')",
            Assert.Throws<ArgumentException>(() => new MaxNorm(-1f)).Message);
        Assert.Contains("min_value must not exceed max_value. Received: min_value=2, max_value=1",
            Assert.Throws<ArgumentException>(() => new MinMaxNorm(2f, 1f)).Message);
        Assert.Contains("axis must name at least one axis", Assert.Throws<ArgumentException>(() => new UnitNorm([])).Message);
        Assert.Equal("MaxNorm: axis 3 is out of range for a weight of shape (2, 2).",
            Assert.Throws<ArgumentException>(() => new MaxNorm(1f, [3]).Call(Tensor.Ones(2, 2))).Message);
    }

    [Fact]
    public void AnOptimizerProjectsTheVariableAfterItsUpdate()
    {
        // SGD: w ← w − 0.5·g, then MaxNorm(1) over axis 0 — by hand: column 0 (3, 4) − (1, 1) → (2, 3), norm √13 → scaled to 1.
        var w = new Variable(Tensor.FromArray(new float[,] { { 3, 0.1f }, { 4, 0.2f } }), "w") { Constraint = new MaxNorm(1f) };
        new SGD(0.5f).ApplyGradients([Tensor.FromArray(new float[,] { { 2, 0 }, { 2, 0 } })], [w]);
        float n = MathF.Sqrt(13f), s = 1f / (1e-7f + n);
        float small = MathF.Sqrt(0.05f), keep = small / (1e-7f + small);
        ReferenceData.AssertClose(Tensor.FromArray(new float[,] { { 2 * s, 0.1f * keep }, { 3 * s, 0.2f * keep } }), w, "projected");
    }

    private static Sequential Constrained() => new(new Input([6, 6, 1]),
        new Conv2D(3, 3, activation: "relu", kernelConstraint: new MaxNorm(0.3f, [0, 1, 2]), biasConstraint: new NonNeg()),
        new Flatten(), new Dense(8, "relu", kernelConstraint: new UnitNorm()), new Dense(3, kernelConstraint: new MinMaxNorm(0.2f, 0.4f, rate: 0.5f)));

    [Fact]
    public void TheFusedStepAndTheTapeProjectAlike()
    {
        var x = Tensor.RandomUniform([64, 6, 6, 1], seed: 3);
        var y = Tensor.FromArray([.. Enumerable.Range(0, 64).Select(i => (float)(i % 3))], [64]);
        (float[] Weights, string Path, Sequential Model) Train(bool tape)
        {
            CortexRandom.SetGlobalSeed(7);
            var model = Constrained();
            model.Compile(new Adam(0.05f), new SparseCategoricalCrossentropy(fromLogits: true));
            Trainer.ForceTapePath = tape;
            try
            {
                model.Fit(x, y, epochs: 2, batchSize: 16, verbose: 0);
                return ([.. model.GetWeights().SelectMany(t => t.ToArray())], model.TrainingPath!, model);
            }
            finally { Trainer.ForceTapePath = false; }
        }
        var fused = Train(tape: false);
        var tape = Train(tape: true);
        Assert.Equal("fused", fused.Path);
        Assert.Equal(tape.Weights, fused.Weights);
        var conv = (Conv2D)fused.Model.Layers[1];
        var k = conv.Kernel!.ToArray();
        for (int f = 0; f < 3; f++)
            Assert.True(MathF.Sqrt(Enumerable.Range(0, 9).Sum(i => k[i * 3 + f] * k[i * 3 + f])) <= 0.3f + 1e-5f, $"filter {f}");
        Assert.All(conv.Bias!.ToArray(), b => Assert.True(b >= 0));
        var dense = ((Dense)fused.Model.Layers[3]).Kernel!.ToArray();
        for (int u = 0; u < 8; u++)
            Assert.Equal(1f, MathF.Sqrt(Enumerable.Range(0, 48).Sum(i => dense[i * 8 + u] * dense[i * 8 + u])), 1e-5f);
    }

    [Fact]
    public void ConstraintsAreSavedWithTheLayer()
    {
        CortexRandom.SetGlobalSeed(2);
        var model = Constrained();
        using var dir = new TempDir();
        string path = dir.File("constrained.cortex");
        model.Save(path);
        var back = Model.Load(path);
        var conv = Assert.IsType<Conv2D>(back.Layers[1]);
        Assert.Equal(0.3f, Assert.IsType<MaxNorm>(conv.KernelConstraint).MaxValue);
        Assert.Equal([0, 1, 2], ((MaxNorm)conv.KernelConstraint!).Axis);
        Assert.IsType<NonNeg>(conv.BiasConstraint);
        Assert.IsType<UnitNorm>(Assert.IsType<Dense>(back.Layers[3]).KernelConstraint);
        var mm = Assert.IsType<MinMaxNorm>(Assert.IsType<Dense>(back.Layers[4]).KernelConstraint);
        Assert.Equal((0.2f, 0.4f, 0.5f), (mm.MinValue, mm.MaxValue, mm.Rate));
        Assert.NotNull(((Dense)back.Layers[4]).Kernel!.Constraint);
        Assert.Equal(JsonSerializer.Serialize(new MaxNorm(0.3f, [0, 1, 2]).GetConfig()), JsonSerializer.Serialize(conv.KernelConstraint!.GetConfig()));
    }
}
