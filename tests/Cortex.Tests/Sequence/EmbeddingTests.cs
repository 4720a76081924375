using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Tests.Data;

namespace Cortex.Tests.Sequence;

/// <summary>Embedding beyond the PyTorch values: bad indices, its configuration, both training paths, saving.</summary>
public class EmbeddingTests
{
    [Theory]
    [InlineData(10f, "Received: 10 at row 1, position 2")]
    [InlineData(-1f, "Received: -1 at row 1, position 2")]
    [InlineData(2.5f, "Received: 2.5 at row 1, position 2")]
    [InlineData(float.NaN, "Received: NaN at row 1, position 2")]
    public void BadIndicesAreRefusedNamingRowAndPosition(float bad, string expected)
    {
        var layer = new Embedding(10, 3, name: "words");
        var x = Tensor.FromArray(new float[,] { { 1, 2, 3 }, { 4, 5, bad } });
        var e = Assert.Throws<ArgumentException>(() => layer.Call(x));
        Assert.Contains("Embedding 'words' expects indices that are whole numbers in [0, 10)", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void ArgumentsAreChecked()
    {
        Assert.Contains("inputDim=0", Assert.Throws<ArgumentOutOfRangeException>(() => new Embedding(0, 3)).Message);
        Assert.Contains("outputDim=-2", Assert.Throws<ArgumentOutOfRangeException>(() => new Embedding(4, -2)).Message);
    }

    [Fact]
    public void ShapesWeightsAndMaskFollowKeras()
    {
        var layer = new Embedding(inputDim: 5, outputDim: 2, maskZero: true);
        var x = Tensor.FromArray(new float[,] { { 0, 4, 1 } });
        Tensor y = layer.Call(x);
        Assert.Equal([1, 3, 2], y.Shape);
        Assert.Equal([5, 2], layer.Embeddings!.Shape);
        Assert.Equal($"{layer.Name}/embeddings", layer.Embeddings.Name);
        Assert.All(layer.Embeddings.ToArray(), v => Assert.InRange(v, -0.05f, 0.05f)); // Keras's "uniform"
        Assert.Equal(layer.Embeddings.ToArray()[8..10], y.ToArray()[2..4]);            // row 4 for position 1
        Assert.Equal([0f, 1f, 1f], layer.ComputeMask(x)!.ToArray());
        Assert.Null(new Embedding(5, 2).ComputeMask(x));
        var config = layer.GetConfig();
        Assert.Equal(5, config["input_dim"]);
        Assert.Equal(2, config["output_dim"]);
        Assert.Equal(true, config["mask_zero"]);
    }

    /// <summary>Each token's class is a function of the token; the model must learn the table.</summary>
    internal static (Tensor X, Tensor Y) Tokens(int rows, int seed)
    {
        var rng = new Random(seed);
        var x = new float[rows, 6];
        var y = new float[rows];
        for (int i = 0; i < rows; i++)
        {
            int ones = 0;
            for (int t = 0; t < 6; t++)
            {
                x[i, t] = rng.Next(1, 20);
                if (x[i, t] < 8) ones++;
            }
            y[i] = ones >= 3 ? 1 : 0;
        }
        return (Tensor.FromArray(x), Tensor.FromArray(y));
    }

    private static Sequential Model() =>
        new(new Input([6]), new Embedding(20, 4, name: "emb"), new Flatten(), new Dense(8, "relu"), new Dense(2));

    [Fact]
    public void TrainsOnTheFusedPathWithTheTapesBits()
    {
        var (x, y) = Tokens(400, 1);
        float accuracy = BothPaths.AssertFusedEqualsTape(Model, x, y, epochs: 15, rate: 0.02f, seed: 5);
        Assert.True(accuracy > 0.9f, $"accuracy {accuracy}");
    }

    [Fact]
    public void FitRefusesABadIndexInAnyRowBeforeTheFirstUpdate()
    {
        var (x, y) = Tokens(100, 2);
        var data = x.ToArray();
        data[97 * 6 + 3] = 20;
        x = Tensor.FromArray(data, [100, 6]);
        var model = Model();
        model.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true));
        model.Build([-1, 6]);
        var before = model.GetWeights().SelectMany(w => w.ToArray()).ToArray();
        var e = Assert.Throws<ArgumentException>(() => model.Fit(x, y, epochs: 1, batchSize: 8, verbose: 0));
        Assert.Contains("Received: 20 at row 97, position 3", e.Message);
        Assert.Equal(before, model.GetWeights().SelectMany(w => w.ToArray()));
    }

    [Fact]
    public void SavesAndLoadsWithItsTable()
    {
        var (x, y) = Tokens(64, 3);
        Assert.IsType<Embedding>(BothPaths.FitSaveLoad(Model(), x, y).Layers[1]);
    }

    [Fact]
    public void ARegularizedTableTrainsOnTheTapeAndSaysWhy()
    {
        var (x, y) = Tokens(64, 4);
        var model = new Sequential(new Input([6]), new Embedding(20, 4, embeddingsRegularizer: new Cortex.Regularizers.L2(0.01f), name: "reg_emb"), new Flatten(), new Dense(2));
        Assert.Equal("tape: Embedding 'reg_emb' has a regularizer", BothPaths.PathOf(model, x, y));
    }
}
