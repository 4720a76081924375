using System.Text.Json;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Tests.Reference;
using Cortex.Tests.Training;

namespace Cortex.Tests.Models;

/// <summary>
/// The training-step reference cases of training.json (PyTorch running Keras's update rules on a 3→4 tanh→k MLP),
/// driven through the Keras workflow — Sequential of Dense layers, Compile, Fit — rather than raw tensor ops, so the
/// fused training step is checked against the oracle too.
/// </summary>
public class ModelReferenceStepTests
{
    public static TheoryData<string> Cases => TrainingReference.Names("train");

    [Theory]
    [MemberData(nameof(Cases))]
    public void ThreeFitStepsMatchPyTorch(string name)
    {
        var c = TrainingReference.Case(name);
        var initial = c.GetProperty("initial").EnumerateArray().Select(ReferenceData.ToTensor).ToArray();
        string head = c.GetProperty("head").GetString()!;
        var hidden = new Dense(initial[0].Shape[1], "tanh");
        var output = new Dense(initial[2].Shape[1], head is "sigmoid" or "softmax" ? head : "linear");
        hidden.SetWeights(initial[0], initial[1]);
        output.SetWeights(initial[2], initial[3]);
        var model = new Sequential(hidden, output);
        model.Compile(Optimizer.FromConfig(c.GetProperty("optimizer").GetString()!, c.GetProperty("optimizer_config")),
            Loss.FromConfig(c.GetProperty("loss").GetString()!, c.GetProperty("loss_config")));
        Tensor x = TrainingReference.T(c, "x"), y = TrainingReference.T(c, "y");

        // One batch holding every row, no shuffling: each epoch is exactly one step, as in the generator.
        var history = model.Fit(x, y, epochs: 3, batchSize: x.Shape[0], shuffle: false, verbose: 0);

        float[] losses = [.. c.GetProperty("losses").EnumerateArray().Select(v => v.GetSingle())];
        for (int s = 0; s < 3; s++)
            Assert.True(MathF.Abs(history["loss"][s] - losses[s]) <= 1e-6f + 1e-5f * MathF.Abs(losses[s]),
                $"{name} step {s + 1}: loss {history["loss"][s]:R} vs PyTorch {losses[s]:R}");
        var expected = c.GetProperty("weights_step3").EnumerateArray().Select(ReferenceData.ToTensor).ToArray();
        var actual = model.GetWeights();
        for (int i = 0; i < expected.Length; i++) ReferenceData.AssertClose(expected[i], actual[i], $"{name} weight {i} after 3 steps");
    }
}
