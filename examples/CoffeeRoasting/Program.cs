// The course notes' coffee-roasting network (temperature, duration → good roast?), line for line as in Keras.
// Run: dotnet run --project examples/CoffeeRoasting
using Cortex;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

float[,] xData = { { 200, 17 }, { 120, 5 }, { 425, 20 }, { 212, 18 } };   // temperature, duration
var x = Tensor.FromArray(xData);
var y = Tensor.FromArray(new float[] { 1, 0, 0, 1 });

var norm = new Normalization();
norm.Adapt(x);
var model = new Sequential(
    norm,
    new Dense(units: 3, activation: "sigmoid"),
    new Dense(units: 1, activation: "sigmoid"));
model.Compile(optimizer: new Adam(learningRate: 0.01f), loss: new BinaryCrossentropy(), metrics: ["accuracy"]);
History history = model.Fit(x, y, epochs: 100, batchSize: 32, verbose: 0);
Tensor p = model.Predict(x);                 // shape (4, 1), probabilities
model.Summary();
model.Save("coffee.cortex");
Model again = Model.Load("coffee.cortex");   // same predictions, bit for bit

var layer1 = new Dense(units: 3, activation: "sigmoid");
Tensor a1 = layer1.Call(Tensor.FromArray(new float[,] { { 200, 17 } }));   // shape (1, 3)
layer1.SetWeights(Tensor.FromArray(new float[,] { { 1, -3, 5 }, { -2, 4, -6 } }), Tensor.FromArray(new float[] { -1, 1, 2 }));
Tensor[] w = layer1.GetWeights();            // kernel (inputs, units) — a neuron's weights are a column — then bias
Tensor logits = model.Call(x);               // forward pass without batching, like model(X)
Tensor probs = NN.Softmax(logits);

Console.WriteLine($"final loss {history["loss"][^1]:0.0000}");
Console.WriteLine($"predictions {p}");
Console.WriteLine($"reloaded    {again.Predict(x)}");
Console.WriteLine($"layer1 on [200, 17] with the notes' weights: {layer1.Call(Tensor.FromArray(new float[,] { { 200, 17 } }))}");
