// A small convolutional network on Fashion-MNIST, as in Keras: two Conv2D + MaxPooling2D blocks, then Dropout and a
// Dense classifier. Reaches ~88% test accuracy in 3 epochs (about 35 s on a 2-core machine); PyTorch gets the same
// with this model (docs/benchmarks.md, "CNN").
// Needs Debian's dataset-fashion-mnist (sudo apt-get install dataset-fashion-mnist).
// Run: dotnet run --project examples/FashionCnn -c Release [-- EPOCHS [BATCH_SIZE]]
using System.Diagnostics;
using Cortex;
using Cortex.Data;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

int epochs = args.Length > 0 ? int.Parse(args[0]) : 3;
int batchSize = args.Length > 1 ? int.Parse(args[1]) : 64;
CortexRandom.SetGlobalSeed(42);
var (xTrain, yTrain, xTest, yTest) = Datasets.FashionMnist.Load(flatten: false);   // (60000, 28, 28, 1), pixels in [0, 1]

var model = new Sequential(
    new Input(shape: [28, 28, 1]),
    new Conv2D(filters: 32, kernelSize: 3, activation: "relu"),   // (None, 26, 26, 32)
    new MaxPooling2D(poolSize: 2),                                // (None, 13, 13, 32)
    new Conv2D(filters: 64, kernelSize: 3, activation: "relu"),   // (None, 11, 11, 64)
    new MaxPooling2D(poolSize: 2),                                // (None, 5, 5, 64)
    new Flatten(),                                                // (None, 1600)
    new Dropout(rate: 0.5f),
    new Dense(units: 10));                                        // logits
model.Compile(optimizer: new Adam(learningRate: 1e-3f), loss: new SparseCategoricalCrossentropy(fromLogits: true), metrics: ["accuracy"]);
model.Summary();

var clock = Stopwatch.StartNew();
model.Fit(xTrain, yTrain, epochs: epochs, batchSize: batchSize, validationData: (xTest, yTest));
double seconds = clock.Elapsed.TotalSeconds;
var results = model.Evaluate(xTest, yTest, batchSize: 500);
Console.WriteLine($"Test accuracy: {results["accuracy"]:0.0000} (loss {results["loss"]:0.0000}) after {epochs} epochs of batch {batchSize} in {seconds:0.0} s (with validation)");

model.Save("fashion-cnn.cortex");
Console.WriteLine($"Saved fashion-cnn.cortex; reloaded, it predicts class {Model.Load("fashion-cnn.cortex").Predict(xTest.Slice(0, 1)).ArgMax(-1).Item()} " +
    $"for the first test image (label {yTest.AsSpan()[0]}: {Datasets.FashionMnist.ClassNames[(int)yTest.AsSpan()[0]]}).");
