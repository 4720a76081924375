using System.Globalization;
using System.Text;

namespace Cortex.Playground;

/// <summary>Writes the C# program that builds and trains, with Cortex, the network the page shows.</summary>
public static class CodeGenerator
{
    private static string F(float v) => v.ToString("0.#####", CultureInfo.InvariantCulture) + "f";

    public static string Generate(Settings s, int epochs, int trainCount, int testCount)
    {
        bool classification = s.Problem == "classification";
        string reg = s.Regularization switch
        {
            "l1" => $", kernelRegularizer: new L1({F(s.RegularizationRate)})",
            "l2" => $", kernelRegularizer: new L2({F(s.RegularizationRate)})",
            _ => "",
        };
        var b = new StringBuilder();
        b.AppendLine("using Cortex;");
        b.AppendLine("using Cortex.Initializers;");
        b.AppendLine("using Cortex.Layers;");
        b.AppendLine("using Cortex.Losses;");
        b.AppendLine("using Cortex.Models;");
        b.AppendLine("using Cortex.Optimizers;");
        if (reg != "") b.AppendLine("using Cortex.Regularizers;");
        b.AppendLine();
        b.AppendLine($"// Input features of a point (x1, x2) in [-6, 6]²: {string.Join(", ", s.Features)}");
        b.AppendLine($"static float[] Features(float x1, float x2) => [{string.Join(", ", s.Features.Select(f => InputFeatures.Get(f).Code))}];");
        b.AppendLine();
        b.AppendLine($"// The '{s.Dataset}' data (noise {s.Noise}%, seed {s.Seed}): {trainCount} training and {testCount} test points,");
        b.AppendLine(classification
            ? "// x = one Features(...) row per point, y = 1 for blue, 0 for orange, each of shape (n, 1)."
            : "// x = one Features(...) row per point, y = the value in [-1, 1], of shape (n, 1).");
        b.AppendLine("Tensor xTrain = ..., yTrain = ..., xTest = ..., yTest = ...;");
        b.AppendLine();
        b.AppendLine("var init = new RandomUniform(-0.5f, 0.5f);   // as the TensorFlow Playground starts its weights");
        b.AppendLine("var model = new Sequential(");
        b.Append($"    new Input([{s.Features.Length}])");
        foreach (int units in s.Layers)
            b.Append($",\n    new Dense({units}, activation: \"{s.Activation}\", kernelInitializer: init, biasInitializer: new Constant(0.1f){reg})");
        b.AppendLine($",\n    new Dense(1, activation: \"{(classification ? "sigmoid" : "linear")}\", kernelInitializer: init, biasInitializer: new Constant(0.1f){reg}));");
        string optimizer = s.Optimizer == "adam" ? $"new Adam(learningRate: {F(s.LearningRate)})" : $"new SGD(learningRate: {F(s.LearningRate)})";
        b.AppendLine(classification
            ? $"model.Compile({optimizer}, new BinaryCrossentropy(), [\"accuracy\"]);"
            : $"model.Compile({optimizer}, new MeanSquaredError());");
        b.AppendLine($"model.Fit(xTrain, yTrain, epochs: {epochs}, batchSize: {s.BatchSize}, shuffle: true, verbose: 0);");
        b.AppendLine("Console.WriteLine($\"test loss {model.Evaluate(xTest, yTest)[\"loss\"]:F3}\");");
        b.AppendLine("model.Save(\"playground.cortex\");");
        return b.ToString();
    }
}
