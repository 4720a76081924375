using Cortex.Data;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Tests.Models;

public class DigitsTests
{
    [Fact]
    public void NotesDigitModelReaches92PercentIn20Epochs()
    {
        CortexRandom.SetGlobalSeed(42);
        var (xTrain, yTrain, xTest, yTest) = Datasets.Digits.Load();
        var model = Zoo.DigitsMlp();   // 784 → Dense(25, relu) → Dense(15, relu) → Dense(10) logits
        model.Compile(optimizer: new Adam(learningRate: 1e-3f), loss: new SparseCategoricalCrossentropy(fromLogits: true), metrics: ["accuracy"]);
        model.Fit(xTrain, yTrain, epochs: 20, verbose: 0);
        var result = model.Evaluate(xTest, yTest);
        Assert.True(result["accuracy"] >= 0.92f, $"test accuracy {result["accuracy"]:P2}");
        // Predict gives logits; the class is the arg-max, as in the notes (np.argmax(prediction)).
        float acc = Tensor.Equal(model.Predict(xTest).ArgMax(-1), yTest).Mean().Item();
        Assert.Equal(result["accuracy"], acc, 5);
    }
}
