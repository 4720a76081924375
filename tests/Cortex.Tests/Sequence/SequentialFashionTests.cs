using Cortex.Data;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Tests.Sequence;

/// <summary>examples/SequentialFashion's recipe (Zoo.FashionRnn: images read row by row by an LSTM(128)) on a fifth of
/// the data: it learns, on the fused step, with Keras's parameter count.</summary>
public class SequentialFashionTests
{
    [Theory]
    [InlineData("lstm", 0.70f)]
    [InlineData("gru", 0.70f)] // 0.719 at this seed
    public void TheExamplesRecipeLearnsFashionRowByRow(string cell, float floor)
    {
        CortexRandom.SetGlobalSeed(42);
        var (xTrain, yTrain, xTest, yTest) = Datasets.FashionMnist.Load();
        var model = Zoo.FashionRnn(cell);
        model.Compile(new Adam(1e-3f), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        model.Fit(xTrain.Slice(0, 12000).Reshape(-1, 28, 28), yTrain.Slice(0, 12000), epochs: 1, batchSize: 64, verbose: 0);
        Assert.Equal("fused", model.TrainingPath);
        float accuracy = model.Evaluate(xTest.Slice(0, 2000).Reshape(-1, 28, 28), yTest.Slice(0, 2000))["accuracy"];
        Assert.True(accuracy >= floor, $"{cell}: test accuracy {accuracy} < {floor} after one epoch on 12,000 images");
    }
}
