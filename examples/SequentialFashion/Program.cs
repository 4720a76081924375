// A recurrent network on Fashion-MNIST that reads each image as a sequence: 28 steps, one row of 28 pixels each, into
// an LSTM(128) whose last state a Dense layer classifies — the course notes' sequence models on data you already know.
// Needs Debian's dataset-fashion-mnist (sudo apt-get install dataset-fashion-mnist).
// Run: dotnet run --project examples/SequentialFashion -c Release [-- EPOCHS [BATCH_SIZE] [lstm|gru]]
using System.Diagnostics;
using Cortex;
using Cortex.Data;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

int epochs = args.Length > 0 ? int.Parse(args[0]) : 1;
int batchSize = args.Length > 1 ? int.Parse(args[1]) : 64;
string cell = args.Length > 2 ? args[2] : "lstm";
CortexRandom.SetGlobalSeed(42);
var (xTrain, yTrain, xTest, yTest) = Datasets.FashionMnist.Load();   // (60000, 784), pixels in [0, 1]

// Each image as 28 time steps of 28 pixels: the same floats, viewed as (N, 28, 28).
xTrain = xTrain.Reshape(-1, 28, 28);
xTest = xTest.Reshape(-1, 28, 28);

// Input([28, 28]) → LSTM(128) → Dense(10) logits; Cortex.Models.Zoo defines it once for this example, the CLI
// (cortex train --model lstm), the benchmark and the tests.
var model = Zoo.FashionRnn(cell);
model.Compile(optimizer: new Adam(learningRate: 1e-3f), loss: new SparseCategoricalCrossentropy(fromLogits: true), metrics: ["accuracy"]);
model.Summary();

var clock = Stopwatch.StartNew();
model.Fit(xTrain, yTrain, epochs: epochs, batchSize: batchSize);
double seconds = clock.Elapsed.TotalSeconds;
var results = model.Evaluate(xTest, yTest, batchSize: 500);
Console.WriteLine($"Test accuracy: {results["accuracy"]:0.0000} (loss {results["loss"]:0.0000}) after {epochs} epoch(s) of batch {batchSize} in {seconds:0.0} s ({model.TrainingPath})");

model.Save($"fashion-{cell}.cortex");
Console.WriteLine($"Saved fashion-{cell}.cortex; reloaded, it predicts class {Model.Load($"fashion-{cell}.cortex").Predict(xTest.Slice(0, 1)).ArgMax(-1).Item()} " +
    $"for the first test image (label {yTest.AsSpan()[0]}: {Datasets.FashionMnist.ClassNames[(int)yTest.AsSpan()[0]]}).");
