// A fresh console app's program, built against the Cortex package only: the README's digits program, then a
// save/load round trip. It prints one "name value" line per fact, which PackageConsumptionTests reads.
using System.Globalization;
using Cortex;
using Cortex.Data;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
CortexRandom.SetGlobalSeed(42);

var (xTrain, yTrain, xTest, yTest) = Datasets.Digits.Load();      // embedded in Cortex.dll: no file, no download
var model = new Sequential(
    new Dense(units: 25, activation: "relu"),
    new Dense(units: 15, activation: "relu"),
    new Dense(units: 10, activation: "linear"));
model.Compile(
    loss: new SparseCategoricalCrossentropy(fromLogits: true),
    optimizer: new Adam(learningRate: 1e-3f),
    metrics: ["accuracy"]);
History history = model.Fit(xTrain, yTrain, epochs: 10, verbose: 0);
float accuracy = model.Evaluate(xTest, yTest)["accuracy"];

model.Save("digits.cortex");
Model loaded = Model.Load("digits.cortex");
float[] before = model.Predict(xTest).ToArray(), after = loaded.Predict(xTest).ToArray();
int differing = 0;
for (int i = 0; i < before.Length; i++)
    if (BitConverter.SingleToInt32Bits(before[i]) != BitConverter.SingleToInt32Bits(after[i])) differing++;

Console.WriteLine($"train {xTrain.Shape[0]} test {xTest.Shape[0]}");
Console.WriteLine($"loss {history["loss"][0]:F4} {history["loss"][^1]:F4}");
Console.WriteLine($"accuracy {accuracy:F4}");
Console.WriteLine($"outputs {before.Length} differing {differing}");
Console.WriteLine($"lohthreshold {AppContext.GetData("System.GC.LOHThreshold") ?? "unset"}");
