// A residual convolutional network on Fashion-MNIST, built with the Functional API: examples/FashionCnn's network
// with one residual block (an identity shortcut around two 3×3 convolutions, He et al. 2016) after its first
// pooling. Same recipe as FashionCnn (standardised pixels, batches of 32, Adam decaying from 3e-3 to 1e-4 over the
// epochs), same seed: 91.8% test accuracy in 3 epochs, where the plain network reaches 90.6% (about 30 s on 2 cores, on the
// fused step).
// Needs Debian's dataset-fashion-mnist (sudo apt-get install dataset-fashion-mnist).
// Run: dotnet run --project examples/ResidualFashion -c Release [-- EPOCHS]
using System.Diagnostics;
using Cortex;
using Cortex.Data;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

int epochs = args.Length > 0 ? int.Parse(args[0]) : 3;
const int BatchSize = 32;
CortexRandom.SetGlobalSeed(42);
var (xTrain, yTrain, xTest, yTest) = Datasets.FashionMnist.Load(flatten: false);   // (60000, 28, 28, 1), pixels in [0, 1]
float mean = xTrain.Mean().Item();
float std = (xTrain - mean).Square().Mean().Sqrt().Item();
xTrain = (xTrain - mean) / std;
xTest = (xTest - mean) / std;

// The graph, as Zoo.FashionResNet() builds it (written out here to show the Functional API):
var pixels = new Input([28, 28, 1], name: "pixels");
SymbolicTensor x = new MaxPooling2D(2).Call(new Conv2D(32, 3, activation: "relu").Call(pixels));        // (None, 13, 13, 32)
SymbolicTensor branch = new Conv2D(32, 3, padding: "same", activation: "relu").Call(x);
branch = new Conv2D(32, 3, padding: "same").Call(branch);
x = new Activation("relu").Call(new Add().Call(x, branch));                                              // the shortcut
x = new MaxPooling2D(2).Call(new Conv2D(64, 3, activation: "relu").Call(x));                            // (None, 5, 5, 64)
var model = new Functional(pixels, new Dense(10).Call(new Flatten().Call(x)), name: "fashion_resnet");

long totalSteps = (long)epochs * ((xTrain.Shape[0] + BatchSize - 1) / BatchSize);
var adam = new Adam(3e-3f) { Schedule = new ExponentialDecay(3e-3f, decaySteps: totalSteps, decayRate: 1e-4f / 3e-3f) };
model.Compile(adam, new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
model.Summary();   // Keras's "Connected to" column shows the Add reading both the pooling and the branch

var clock = Stopwatch.StartNew();
model.Fit(xTrain, yTrain, epochs: epochs, batchSize: BatchSize);
Console.WriteLine($"Trained {epochs} epochs in {clock.Elapsed.TotalSeconds:0.0} s ({model.TrainingPath}).");
var results = model.Evaluate(xTest, yTest, batchSize: 500);
Console.WriteLine($"Test accuracy: {results["accuracy"]:0.0000} (loss {results["loss"]:0.0000}); examples/FashionCnn's plain network: 0.906 with the same recipe.");
model.Save("fashion-resnet.cortex");
Console.WriteLine("Saved fashion-resnet.cortex (Model.Load reads the graph back).");
