using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Tests.Models;

/// <summary>The models issue's contract program, as written, plus the course notes' worked examples.</summary>
public class ContractTests
{
    [Fact]
    public void ContractProgramRunsAsWritten()
    {
        string dir = Directory.CreateTempSubdirectory("cortex-contract").FullName;
        string path = Path.Combine(dir, "coffee.cortex");

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
        model.Save(path);
        Model again = Model.Load(path);   // same predictions, bit for bit

        var layer1 = new Dense(units: 3, activation: "sigmoid");
        Tensor a1 = layer1.Call(Tensor.FromArray(new float[,] { { 200, 17 } }));   // shape (1, 3)
        layer1.SetWeights(Tensor.FromArray(new float[,] { { 1, -3, 5 }, { -2, 4, -6 } }), Tensor.FromArray(new float[] { -1, 1, 2 }));
        Tensor[] w = layer1.GetWeights();            // kernel (inputs, units) — a neuron's weights are a column — then bias
        Tensor logits = model.Call(x);               // forward pass without batching, like model(X)
        Tensor probs = NN.Softmax(logits);

        Assert.Equal([4, 1], p.Shape);
        Assert.All(p.ToArray(), v => Assert.InRange(v, 0f, 1f));
        Assert.Equal(100, history["loss"].Count);
        Assert.True(history["loss"][^1] < history["loss"][0]);
        Assert.Equal(p.ToArray(), again.Predict(x).ToArray());
        Assert.Equal([1, 3], a1.Shape);
        Assert.Equal([2, 3], w[0].Shape);
        Assert.Equal([3], w[1].Shape);
        Assert.Equal(p.ToArray(), logits.ToArray());
        Assert.Equal([4, 1], probs.Shape);
        Assert.All(probs.ToArray(), v => Assert.Equal(1f, v)); // softmax over a single output is 1
    }

    [Fact]
    public void NotesThreeInputNetwork()
    {
        // Hidden weights rows (1.2, 0.9, 0.3), (0.2, 0.3, 0.1), (1.3, 1.9, 0.1) are the three neurons: columns of W.
        var hidden = new Dense(3, "sigmoid");
        hidden.SetWeights(Tensor.FromArray(new float[,] { { 1.2f, 0.9f, 0.3f }, { 0.2f, 0.3f, 0.1f }, { 1.3f, 1.9f, 0.1f } }).T, Tensor.Full([3], 0.1f));
        var output = new Dense(1, "sigmoid");
        output.SetWeights(Tensor.FromArray(new float[,] { { 0.2f }, { 0.6f }, { 0.2f } }), Tensor.Full([1], 0.1f));
        var x = Tensor.FromArray(new float[,] { { 0.2f, 0.5f, -0.9f } });
        var a1 = hidden.Call(x).ToArray();
        Assert.Equal(0.6271f, a1[0], 4);
        Assert.Equal(0.5498f, a1[1], 4);
        Assert.Equal(0.7721f, a1[2], 4);
        Assert.Equal(0.6703f, new Sequential(hidden, output).Call(x).Item(), 4);
    }

    [Fact]
    public void NotesSoftmaxExample()
    {
        var p = NN.Softmax(Tensor.FromArray(new float[] { 6, -2, 3 })).ToArray();
        Assert.Equal(0.95227, p[0], 5e-6);
        Assert.Equal(0.00031945, p[1], 5e-9);
        Assert.Equal(0.047411, p[2], 5e-7);
    }

    [Fact]
    public void NotesCoffeeRoastingLayerMatchesThePerNeuronLoop()
    {
        var w = new float[,] { { 1, -3, 5 }, { -2, 4, -6 } };
        var b = new float[] { -1, 1, 2 };
        var layer = new Dense(3, "sigmoid");
        layer.SetWeights(Tensor.FromArray(w), Tensor.FromArray(b));
        var a = layer.Call(Tensor.FromArray(new float[,] { { 200, 17 } })).ToArray();
        Assert.Equal(new float[] { 1, 0, 1 }, a);
        // The notes' loop: a_j = g(w_j · x + b_j) with w_j the j-th column.
        float[] x = [200, 17];
        for (int j = 0; j < 3; j++)
        {
            float z = w[0, j] * x[0] + w[1, j] * x[1] + b[j];
            Assert.Equal(1f / (1f + MathF.Exp(-z)), a[j]);
        }
    }

    [Fact]
    public void LayersAreNamedLikeKeras()
    {
        var a = new Dense(2);
        var b = new Dense(2);
        Assert.Matches("^dense(_\\d+)?$", a.Name);
        Assert.NotEqual(a.Name, b.Name);
        Assert.Equal("my_layer", new Dense(2, name: "my_layer").Name);
        Assert.Matches("^normalization(_\\d+)?$", new Normalization().Name);
    }

    [Fact]
    public void SummaryShowsShapesAndParameterCounts()
    {
        var model = Zoo.DigitsMlp();
        var lines = new List<string>();
        model.Summary(lines.Add);
        string text = string.Join("\n", lines);
        Assert.Contains("(None, 25)", text);
        Assert.Contains("19,625", text);
        Assert.Contains("Total params: 20,175 (78.81 KB)", text);
        Assert.Contains("Trainable params: 20,175", text);
        Assert.Contains("Non-trainable params: 0 (0.00 B)", text);
    }
}
