using System.Text.Json;
using Cortex.Losses;
using Cortex.Optimizers;
using Cortex.Tests.Reference;
using static Cortex.Tests.Training.TrainingReference;

namespace Cortex.Tests.Training;

/// <summary>
/// Three training steps of a 3 → 4 tanh → k MLP for every loss × optimizer against PyTorch running Keras's update
/// rules, plus the optimizer contract: state round trip, null gradients, clipping, schedules, errors, configs.
/// </summary>
public class OptimizerTests
{
    public static TheoryData<string> Cases => Names("train");

    private static Tensor Forward(Tensor x, Variable[] p, string head)
    {
        Tensor z = NN.Tanh(x.MatMul(p[0]) + p[1]).MatMul(p[2]) + p[3];
        return head switch { "sigmoid" => NN.Sigmoid(z), "softmax" => NN.Softmax(z), _ => z };
    }

    private static (Variable[] Params, Func<float> Step) Setup(JsonElement c, Optimizer? optimizer = null)
    {
        var loss = Loss.FromConfig(c.GetProperty("loss").GetString()!, c.GetProperty("loss_config"));
        optimizer ??= Optimizer.FromConfig(c.GetProperty("optimizer").GetString()!, c.GetProperty("optimizer_config"));
        string[] names = ["w1", "b1", "w2", "b2"];
        Variable[] p = [.. c.GetProperty("initial").EnumerateArray().Select((e, i) => new Variable(ReferenceData.ToTensor(e), names[i]))];
        Tensor x = T(c, "x"), y = T(c, "y");
        string head = c.GetProperty("head").GetString()!;
        return (p, () =>
        {
            using var tape = new GradientTape();
            Tensor j = loss.Call(y, Forward(x, p, head));
            optimizer.ApplyGradients(tape.Gradient(j, p), p);
            return j.Item();
        });
    }

    private static void AssertWeights(JsonElement expected, Variable[] actual, string what)
    {
        var e = expected.EnumerateArray().ToArray();
        for (int i = 0; i < actual.Length; i++) ReferenceData.AssertClose(ReferenceData.ToTensor(e[i]), actual[i], $"{what} {actual[i].Name}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ThreeStepsMatchPyTorch(string name)
    {
        var c = Case(name);
        var (p, step) = Setup(c);
        float[] losses = [.. c.GetProperty("losses").EnumerateArray().Select(v => v.GetSingle())];
        for (int s = 1; s <= 3; s++)
        {
            float j = step();
            ReferenceData.AssertClose(Tensor.Scalar(losses[s - 1]), Tensor.Scalar(j), $"{name} loss at step {s}");
            if (s == 1) AssertWeights(c.GetProperty("weights_step1"), p, $"{name} after step 1:");
        }
        AssertWeights(c.GetProperty("weights_step3"), p, $"{name} after step 3:");
    }

    [Theory]
    [InlineData("mse__adam")]
    [InlineData("cce_logits__rmsprop_centered_momentum")]
    [InlineData("scce_logits__sgd_nesterov")]
    [InlineData("bce_logits__adamw")]
    [InlineData("mse__nadam")]
    [InlineData("cce_logits__adagrad_weight_decay")]
    [InlineData("mae__adadelta")]
    [InlineData("scce_logits__adamax")]
    [InlineData("bce_probs__lion_weight_decay")]
    [InlineData("mse__adam_ema_overwrite")]
    public void StateSavedAfterOneStepResumesIdentically(string name)
    {
        // Train one step, save the optimizer's state and the weights, rebuild both, and finish: same as uninterrupted.
        var c = Case(name);
        var optimizer = Optimizer.FromConfig(c.GetProperty("optimizer").GetString()!, c.GetProperty("optimizer_config"));
        var (p, step) = Setup(c, optimizer);
        step();
        var state = optimizer.Variables;
        Assert.Equal(1f, state[0].Item());
        Assert.Equal(0, state[0].Rank);

        var resumed = Optimizer.FromConfig(optimizer.GetType().Name, Json(optimizer.GetConfig()));
        var (q, stepQ) = Setup(c, resumed);
        for (int i = 0; i < q.Length; i++) q[i].Assign(p[i]);
        resumed.Build(q);
        resumed.LoadVariables(state);
        Assert.Equal(1, resumed.Iterations);
        step(); step();
        stepQ(); stepQ();
        for (int i = 0; i < p.Length; i++) ReferenceData.AssertClose(p[i], q[i], $"{name} resumed {p[i].Name}", rtol: 0, atol: 0);
        AssertWeights(c.GetProperty("weights_step3"), q, $"{name} resumed after step 3:");
    }

    [Fact]
    public void VariablesListIterationsThenSlotsPerVariable()
    {
        var a = new Variable(Tensor.Zeros(2, 3), "a");
        var b = new Variable(Tensor.Zeros(3), "b");
        var adam = new Adam();
        adam.Build([a, b]);
        var v = adam.Variables;
        Assert.Equal(5, v.Count); // iterations, m(a), m(b), v(a), v(b)
        Assert.Equal([2, 3], v[1].Shape);
        Assert.Equal([3], v[2].Shape);
        Assert.Single(new SGD().Variables); // plain SGD has no slots
    }

    [Fact]
    public void LoadVariablesRejectsWrongCountAndShape()
    {
        var a = new Variable(Tensor.Zeros(2, 3), "kernel");
        var sgd = new SGD(momentum: 0.9f);
        sgd.Build([a]);
        var count = Assert.Throws<ArgumentException>(() => sgd.LoadVariables([Tensor.Scalar(0)]));
        Assert.Contains("expected 2 tensors", count.Message);
        var shape = Assert.Throws<ArgumentException>(() => sgd.LoadVariables([Tensor.Scalar(0), Tensor.Zeros(3, 2)]));
        Assert.Contains("kernel", shape.Message);
        Assert.Contains("(2, 3)", shape.Message);
        Assert.Contains("(3, 2)", shape.Message);
    }

    [Fact]
    public void NullGradientSkipsItsVariable()
    {
        var a = new Variable(Tensor.Ones(2), "a");
        var b = new Variable(Tensor.Ones(2), "b");
        new SGD(0.5f).ApplyGradients([Tensor.Ones(2), null], [a, b]);
        Assert.Equal([0.5f, 0.5f], a.ToArray());
        Assert.Equal([1f, 1f], b.ToArray());
        new SGD(0.5f).ApplyGradients([(null, a), ((Tensor?)Tensor.Ones(2), b)]);
        Assert.Equal([0.5f, 0.5f], b.ToArray());
    }

    [Fact]
    public void AllNullGradientsAreAnError()
    {
        var a = new Variable(Tensor.Ones(2), "a");
        Assert.Throws<ArgumentException>(() => new Adam().ApplyGradients([null], [a]));
    }

    [Fact]
    public void GradientShapeMismatchNamesVariableAndShapes()
    {
        var a = new Variable(Tensor.Ones(2, 3), "dense/kernel");
        var ex = Assert.Throws<ArgumentException>(() => new Adam().ApplyGradients([Tensor.Ones(3, 2)], [a]));
        Assert.Contains("dense/kernel", ex.Message);
        Assert.Contains("(3, 2)", ex.Message);
        Assert.Contains("(2, 3)", ex.Message);
    }

    [Fact]
    public void OnlyOneClippingOptionMayBeSet()
    {
        var ex = Assert.Throws<ArgumentException>(() => new SGD(clipNorm: 1, clipValue: 1));
        Assert.Contains("only one of", ex.Message);
        Assert.Throws<ArgumentException>(() => new Adam(globalClipNorm: -1));
    }

    [Fact]
    public void ClippingLeavesTheCallersGradientUntouched()
    {
        var a = new Variable(Tensor.Zeros(2), "a");
        var g = Tensor.FromArray(new float[] { 3, 4 });
        new SGD(1f, clipNorm: 1f).ApplyGradients([g], [a]);
        Assert.Equal([3f, 4f], g.ToArray());
        Assert.Equal(-0.6f, a[0], 1e-6f);
        Assert.Equal(-0.8f, a[1], 1e-6f);
    }

    [Fact]
    public void ScheduleDrivesLearningRateAndSettingRateRemovesIt()
    {
        var a = new Variable(Tensor.Zeros(1), "a");
        var sgd = new SGD { Schedule = new ExponentialDecay(0.1f, decaySteps: 2, decayRate: 0.5f, staircase: true) };
        Assert.Equal(0.1f, sgd.LearningRate, 1e-7f);
        sgd.ApplyGradients([Tensor.Ones(1)], [a]);
        sgd.ApplyGradients([Tensor.Ones(1)], [a]);
        Assert.Equal(2, sgd.Iterations);
        Assert.Equal(0.05f, sgd.LearningRate, 1e-7f);
        Assert.Equal(-0.2f, a[0], 1e-6f);
        sgd.LearningRate = 0.3f;
        Assert.Null(sgd.Schedule);
        Assert.Equal(0.3f, sgd.LearningRate);
    }

    [Fact]
    public void ExponentialDecayMatchesKerasFormula()
    {
        var s = new ExponentialDecay(0.1f, decaySteps: 10, decayRate: 0.9f);
        Assert.Equal(0.1f * MathF.Pow(0.9f, 0.5f), s.GetRate(5), 1e-7f);
        Assert.Equal(0.1f, new ExponentialDecay(0.1f, 10, 0.9f, staircase: true).GetRate(9), 1e-7f);
        Assert.Throws<ArgumentException>(() => new ExponentialDecay(0.1f, 0, 0.9f));
    }

    [Fact]
    public void BuildingTwiceKeepsSlotsAndAddsNewVariables()
    {
        var a = new Variable(Tensor.Zeros(2), "a");
        var b = new Variable(Tensor.Zeros(3), "b");
        var sgd = new SGD(0.1f, momentum: 0.9f);
        sgd.ApplyGradients([Tensor.Ones(2)], [a]);
        sgd.Build([a, b]);
        var v = sgd.Variables;
        Assert.Equal(3, v.Count);
        Assert.Equal([-0.1f, -0.1f], v[1].ToArray()); // a's momentum survived
        Assert.Equal(new float[3], v[2].ToArray());
    }

    [Theory]
    [MemberData(nameof(ConfigCases))]
    public void ConfigRoundTrips(Optimizer optimizer)
    {
        var config = Json(optimizer.GetConfig());
        var back = Optimizer.FromConfig(optimizer.GetType().Name, config);
        Assert.IsType(optimizer.GetType(), back);
        Assert.Equal(config.GetRawText(), Json(back.GetConfig()).GetRawText());
    }

    public static TheoryData<Optimizer> ConfigCases => new()
    {
        new SGD(0.2f, 0.8f, nesterov: true, clipValue: 0.5f),
        new Adam(0.002f, 0.8f, 0.99f, 1e-6f, amsgrad: true, clipNorm: 1f),
        new AdamW(0.003f, 0.01f, globalClipNorm: 2f),
        new RMSprop(0.004f, 0.95f, 0.5f, 1e-5f, centered: true),
        new SGD { Schedule = new ExponentialDecay(0.1f, 100, 0.96f, staircase: true) },
    };

    [Theory]
    [InlineData("adam", typeof(Adam))]
    [InlineData("sgd", typeof(SGD))]
    [InlineData("rmsprop", typeof(RMSprop))]
    [InlineData("adamw", typeof(AdamW))]
    [InlineData("RMSprop", typeof(RMSprop))]
    [InlineData("adagrad", typeof(Adagrad))]
    [InlineData("Adadelta", typeof(Adadelta))]
    [InlineData("adamax", typeof(Adamax))]
    [InlineData("nadam", typeof(Nadam))]
    [InlineData("lion", typeof(Lion))]
    public void GetResolvesKerasNamesWithKerasDefaults(string identifier, Type type)
    {
        var optimizer = Optimizer.Get(identifier);
        Assert.IsType(type, optimizer);
        Assert.Equal(type == typeof(SGD) ? 0.01f : 1e-3f, optimizer.LearningRate);
        Assert.Equal(type == typeof(AdamW) ? 0.004f : null, optimizer.WeightDecay);
        switch (optimizer)
        {
            case Adagrad a: Assert.Equal((0.1f, 1e-7f), (a.InitialAccumulatorValue, a.Epsilon)); break;
            case Adadelta a: Assert.Equal((0.95f, 1e-7f), (a.Rho, a.Epsilon)); break;
            case Adamax a: Assert.Equal((0.9f, 0.999f, 1e-7f), (a.Beta1, a.Beta2, a.Epsilon)); break;
            case Nadam a: Assert.Equal((0.9f, 0.999f, 1e-7f), (a.Beta1, a.Beta2, a.Epsilon)); break;
            case Lion a: Assert.Equal((0.9f, 0.99f), (a.Beta1, a.Beta2)); break;
        }
    }

    [Fact]
    public void UnknownNameListsValidNames()
    {
        var ex = Assert.Throws<ArgumentException>(() => Optimizer.Get("adafactor"));
        Assert.Contains("Unknown optimizer 'adafactor'", ex.Message);
        Assert.Contains("adadelta, adagrad, adam, adamax, adamw, lion, nadam, rmsprop, sgd", ex.Message);
    }

    [Fact]
    public void AdagradAccumulatorsStartAtTheInitialValue()
    {
        // Keras's Constant(initial_accumulator_value) initializer for the "accumulator" slot.
        var a = new Variable(Tensor.Zeros(2, 3), "a");
        var adagrad = new Adagrad(initialAccumulatorValue: 0.25f);
        adagrad.Build([a]);
        Assert.Equal(Enumerable.Repeat(0.25f, 6), adagrad.Variables[1].ToArray());
    }

    [Fact]
    public void WeightDecayAndLionBetaAreCheckedAsKerasDoes()
    {
        var decay = Assert.Throws<ArgumentException>(() => new Nadam(weightDecay: -0.1f));
        Assert.Contains("weightDecay", decay.Message);
        Assert.Contains("-0.1", decay.Message);
        var beta = Assert.Throws<ArgumentException>(() => new Lion(beta1: 0f));
        Assert.Contains("beta1", beta.Message);
        Assert.Contains("SignSGD", beta.Message);
        Assert.Throws<ArgumentException>(() => new Adagrad(initialAccumulatorValue: -1f));
        Assert.Throws<ArgumentException>(() => new Adadelta(rho: 1f));
    }

    [Fact]
    public void EmaFollowsTheWeightsAndFinalizeWritesItBack()
    {
        // SGD lr 1, g = 1: w = 10, 9, 8, 7; Keras's average copies w after the first step, then a = ½a + ½w.
        var w = new Variable(Tensor.FromArray(new[] { 10f }), "w");
        var sgd = new SGD(1f, useEma: true, emaMomentum: 0.5f);
        for (int i = 0; i < 3; i++) sgd.ApplyGradients([Tensor.Ones(1)], [w]);
        Assert.Equal(7f, w.ToArray()[0]);
        Assert.Equal(["average"], sgd.SavedSlotNames);
        Assert.Equal(7.75f, sgd.Variables[1].ToArray()[0]); // 9 → ½·9 + ½·8 = 8.5 → ½·8.5 + ½·7
        sgd.FinalizeVariableValues([w]);
        Assert.Equal(7.75f, w.ToArray()[0]);
        Assert.Throws<ArgumentException>(() => sgd.FinalizeVariableValues([new Variable(Tensor.Ones(1), "other")]));
        Assert.Contains("emaOverwriteFrequency=0", Assert.Throws<ArgumentException>(() => new Adam(emaOverwriteFrequency: 0)).Message);
        Assert.Contains("emaMomentum", Assert.Throws<ArgumentException>(() => new Adam(emaMomentum: 1.5f)).Message);
    }

    /// <summary>An optimizer written outside Cortex: its own UpdateStep over spans, no rule.</summary>
    private sealed class PlainDescent(float learningRate, float weightDecay) : Optimizer(learningRate, null, null, null, weightDecay)
    {
        protected override IReadOnlyList<string> SlotNames => [];

        protected override void UpdateStep(ReadOnlySpan<float> gradient, Span<float> variable, int variableIndex, float learningRate)
        {
            for (int i = 0; i < variable.Length; i++) variable[i] -= learningRate * gradient[i];
        }
    }

    [Fact]
    public void WeightDecayShrinksTheWeightsOfAnOptimizerWithItsOwnUpdateStep()
    {
        // Keras decays before any optimizer's update_step, its own or a subclass's: w = w − lr·wd·w, then w −= lr·g.
        var w = new Variable(Tensor.FromArray(new[] { 2f, -4f }), "w");
        new PlainDescent(0.1f, 0.5f).ApplyGradients([Tensor.Ones(2)], [w]);
        Assert.Equal(new[] { 2f - 0.1f - 0.1f, -4f + 0.2f - 0.1f }, w.ToArray());
    }

    [Fact]
    public void WeightDecayShrinksTheWeightsWithAZeroGradient()
    {
        // Decoupled: with g = 0 every optimizer's own step is 0 (Lion: sign(0) = 0), so w = w − lr·wd·w exactly.
        foreach (var optimizer in new Optimizer[] { new SGD(0.1f, weightDecay: 0.5f), new Adagrad(0.1f, weightDecay: 0.5f),
                     new Lion(0.1f, weightDecay: 0.5f), new RMSprop(0.1f, weightDecay: 0.5f) })
        {
            var w = new Variable(Tensor.FromArray(new[] { 2f, -4f }), "w");
            optimizer.ApplyGradients([Tensor.Zeros(2)], [w]);
            Assert.Equal(new[] { 2f - 2f * 0.05f, -4f + 4f * 0.05f }, w.ToArray());
        }
    }

    [Fact]
    public void AdamStepAllocatesNothingOnceBuilt()
    {
        var w = new Variable(Tensor.Ones(1000), "w");
        var g = Tensor.Ones(1000);
        var adam = new Adam();
        IReadOnlyList<Tensor?> grads = [g];
        IReadOnlyList<Variable> vars = [w];
        adam.ApplyGradients(grads, vars);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++) adam.ApplyGradients(grads, vars);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 1024, $"10 Adam steps allocated {allocated} bytes");
    }
}

/// <summary>Keras's fit ends by writing the moving averages into the weights when the optimizer uses them.</summary>
public class EmaFitTests
{
    [Fact]
    public void FitEndsWithTheWeightsTheirMovingAverages()
    {
        var x = Tensor.RandomNormal([64, 3], seed: 1);
        var y = (x.Sum(1) > 0f);
        CortexRandom.SetGlobalSeed(4);
        var model = new Cortex.Models.Sequential(new Cortex.Layers.Input([3]), new Cortex.Layers.Dense(2));
        var sgd = new Cortex.Optimizers.SGD(0.1f, useEma: true, emaMomentum: 0.5f);
        model.Compile(sgd, new Cortex.Losses.SparseCategoricalCrossentropy(fromLogits: true));
        model.Fit(x, y, epochs: 2, batchSize: 16, verbose: 0);
        // Plain SGD keeps one slot, the average: the state is the iteration count, then the kernel's and the bias's averages.
        var averages = sgd.Variables.Skip(1).Select(v => v.ToArray()).ToArray();
        Assert.Equal(2, averages.Length);
        Assert.Equal(averages, model.TrainableVariables.Select(v => v.ToArray()).ToArray());
    }

    [Fact]
    public void ExcludedVariablesTakeTheUpdateWithoutWeightDecay()
    {
        Variable Make(string name) => new(Tensor.FromArray(new float[] { 0.5f, -1f, 2f }), name);
        var g = Tensor.FromArray(new float[] { 0.1f, -0.2f, 0.3f });
        Variable kernel = Make("dense/kernel"), bias = Make("dense/bias"), decayed = Make("k"), plain = Make("b");
        var excluding = new AdamW(0.01f, weightDecay: 0.1f);
        excluding.ExcludeFromWeightDecay(names: ["bias"]);
        var decaying = new AdamW(0.01f, weightDecay: 0.1f);
        var adam = new Adam(0.01f);
        for (int step = 0; step < 3; step++)
        {
            excluding.ApplyGradients([g, g], [kernel, bias]);
            decaying.ApplyGradients([g], [decayed]);
            adam.ApplyGradients([g], [plain]);
        }
        Assert.Equal(decayed.ToArray(), kernel.ToArray());   // still decayed
        Assert.Equal(plain.ToArray(), bias.ToArray());       // Adam's update alone
        Assert.NotEqual(kernel.ToArray(), bias.ToArray());
        Assert.Contains("can only be configured before the optimizer is built", Assert.Throws<InvalidOperationException>(() => excluding.ExcludeFromWeightDecay([kernel])).Message);
        Assert.Contains("give the variables, or names they contain", Assert.Throws<ArgumentException>(() => new AdamW().ExcludeFromWeightDecay()).Message);
    }

    [Fact]
    public void ExclusionGivesTheSameBitsOnTheFusedStepAndTheTape()
    {
        var x = Tensor.RandomNormal([64, 6], seed: 1);
        var y = Tensor.FromArray([.. Enumerable.Range(0, 64).Select(i => (float)(i % 3))], [64]);
        float[] Train(bool tape)
        {
            CortexRandom.SetGlobalSeed(4);
            var model = new Cortex.Models.Sequential(new Cortex.Layers.Input([6]), new Cortex.Layers.Dense(16, "relu"), new Cortex.Layers.Dense(3));
            var opt = new AdamW(0.01f, weightDecay: 0.05f);
            opt.ExcludeFromWeightDecay(names: ["bias"]);
            model.Compile(opt, new SparseCategoricalCrossentropy(fromLogits: true));
            Cortex.Models.Trainer.ForceTapePath = tape;
            try { model.Fit(x, y, epochs: 2, batchSize: 16, verbose: 0); }
            finally { Cortex.Models.Trainer.ForceTapePath = false; }
            Assert.Equal(tape ? "tape: ForceTapePath is set" : "fused", model.TrainingPath);
            return [.. model.GetWeights().SelectMany(w => w.ToArray())];
        }
        Assert.Equal(Train(tape: true), Train(tape: false));
    }
}
