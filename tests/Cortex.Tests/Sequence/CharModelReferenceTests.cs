using System.Text.Json;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Tests.Reference;

namespace Cortex.Tests.Sequence;

/// <summary>
/// examples/CharModel's network trained for 200 steps from PyTorch's start (tests/reference/make_charmodel_reference.py:
/// the same weights, windows and batch order, Keras's Adam and masked GRU written out in PyTorch): the training losses
/// and the loss after the 200 steps agree within 1e-3.
/// </summary>
public class CharModelReferenceTests
{
    [Fact]
    public void TwoHundredStepsFollowPyTorchsLosses()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "reference", "charmodel.json")));
        var r = doc.RootElement;
        int window = r.GetProperty("window").GetInt32(), batch = r.GetProperty("batch").GetInt32();
        var model = Zoo.CharRnn(r.GetProperty("vocabulary").GetInt32(), window, r.GetProperty("embedding").GetInt32(), r.GetProperty("units").GetInt32());
        var w = r.GetProperty("weights");
        model.SetWeights([.. new[] { "embeddings", "kernel", "recurrent_kernel", "gru_bias", "dense_kernel", "dense_bias" }
            .Select(k => ReferenceData.ToTensor(w.GetProperty(k)))]);
        float[] xs = [.. r.GetProperty("x").EnumerateArray().Select(v => (float)v.GetInt32())];
        float[] ys = [.. r.GetProperty("y").EnumerateArray().Select(v => (float)v.GetInt32())];
        var x = Tensor.FromArray(xs, [ys.Length, window]);
        var y = Tensor.FromArray(ys);
        double[] losses = [.. r.GetProperty("losses").EnumerateArray().Select(v => v.GetDouble())];
        Assert.Equal(200, losses.Length);
        Assert.Equal(200 * batch, ys.Length);

        model.Compile(new Adam(r.GetProperty("learning_rate").GetSingle()), new SparseCategoricalCrossentropy(fromLogits: true));
        var history = model.Fit(x, y, epochs: 1, batchSize: batch, shuffle: false, verbose: 0);
        Assert.Equal("fused", model.TrainingPath);
        // Keras's epoch loss is the mean of the steps' losses (every batch is full).
        Assert.Equal(losses.Average(), history["loss"][0], 1e-3);
        var first512 = model.Evaluate(Tensor.FromArray(xs[..(512 * window)], [512, window]), Tensor.FromArray(ys[..512]));
        Assert.Equal(r.GetProperty("final_loss_first_512").GetDouble(), first512["loss"], 1e-3);
    }
}
