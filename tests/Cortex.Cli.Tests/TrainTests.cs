using Cortex.Layers;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Cli.Tests;

public class TrainTests
{
    [Fact]
    public void DefaultTrainReachesCourseAccuracyAndSavesModelAndHistoryInTheCurrentDirectory()
    {
        using var dir = new TempDir();
        // A real process, with no options at all: the command a reader of the README types.
        var r = CliHarness.RunProcess(dir.Path, "train");

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("", r.Err);
        Assert.Contains("Model: \"digits\"", r.Out);
        Assert.Contains("(None, 25)", r.Out);
        Assert.Contains("(None, 15)", r.Out);
        Assert.Contains("(None, 10)", r.Out);
        Assert.Contains("Epoch 20/20", r.Out);
        Assert.Contains("250/250 ━━━━━━━━━━━━━━━━━━━━", r.Out); // 8000 / 32 steps, Keras's progress line
        Assert.Contains("Confusion matrix", r.Out);
        float accuracy = r.Number("Test accuracy:");
        Assert.True(accuracy >= 0.92f, $"test accuracy {accuracy} < 0.92\n{r.Out}");
        Assert.InRange(r.Number("Test loss:"), 0f, 0.5f);
        Assert.Contains("/2000 correct", r.Out);

        Assert.True(File.Exists(dir["digits.cortex"]));
        // The images beside it: SkiaSharp's native library loads from the command's own folder.
        Assert.Contains("Plotted the training curves in ./digits-training.png and the confusion matrix in ./digits-confusion.png.", r.Out);
        Assert.True(new FileInfo(dir["digits-training.png"]).Length > 10_000);
        Assert.True(new FileInfo(dir["digits-confusion.png"]).Length > 10_000);
        string[] history = File.ReadAllLines(dir["digits-history.csv"]);
        Assert.Equal("epoch,accuracy,loss", history[0]);
        Assert.Equal(21, history.Length);
        var model = Model.Load(dir["digits.cortex"]);
        Assert.Equal(784, model.InputShape![^1]);
        Assert.IsType<Adam>(model.Optimizer);
    }

    [Fact]
    public void CsvTrainingSplitsStandardisesAndHonoursEveryOption()
    {
        using var dir = new TempDir();
        string csv = dir.Write("roasts.csv", TestData.Blobs(rows: 300));
        string output = Path.Combine(dir.Path, "new", "models"); // --out is created when missing

        var r = CliHarness.Run("train", "--data", csv, "--label", "kind", "--layers", "8,4", "--activation", "tanh",
            "--epochs", "3", "--batch-size", "16", "--optimizer", "sgd", "--lr", "0.05", "--seed", "7",
            "--validation-split", "0.25", "--out", output);

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("300 rows, 2 features, label 'kind' with 3 classes; split 240 for training and 60 for testing (seed 7)", r.Out);
        Assert.Contains("Epoch 3/3", r.Out);
        Assert.DoesNotContain("Epoch 4/", r.Out);
        Assert.Contains("12/12 ━", r.Out);  // 240 rows less 25% for validation = 180, in batches of 16
        Assert.Contains("val_accuracy", r.Out);
        Assert.Contains("/60 correct", r.Out);

        string[] history = File.ReadAllLines(Path.Combine(output, "roasts-history.csv"));
        Assert.Equal("epoch,accuracy,loss,val_accuracy,val_loss", history[0]);
        Assert.Equal(4, history.Length);

        var model = Model.Load(Path.Combine(output, "roasts.cortex"));
        Assert.Collection(model.Layers,
            l => Assert.IsType<Input>(l),
            l => Assert.IsType<Normalization>(l),
            l => Assert.Equal((8, "tanh"), (((Dense)l).Units, ((Dense)l).Activation.Name)),
            l => Assert.Equal((4, "tanh"), (((Dense)l).Units, ((Dense)l).Activation.Name)),
            l => Assert.Equal((3, "linear"), (((Dense)l).Units, ((Dense)l).Activation.Name)));
        var sgd = Assert.IsType<SGD>(model.Optimizer);
        Assert.Equal(0.05f, sgd.LearningRate, 6);
    }

    [Fact]
    public void ModelCnnTrainsTheConvolutionalNetworkOnDigitsAndEvaluateReadsIt()
    {
        using var dir = new TempDir();
        var r = CliHarness.Run("train", "--data", "digits", "--model", "cnn", "--epochs", "1", "--batch-size", "64", "--out", dir.Path);

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("(None, 28, 28, 1)", r.Out); // the Reshape of the flat rows
        Assert.Contains("(None, 26, 26, 32)", r.Out);
        Assert.Contains("(None, 5, 5, 64)", r.Out);
        Assert.Contains("Total params: 34,826", r.Out);
        Assert.Contains("125/125 ━", r.Out);        // 8000 / 64 steps
        float accuracy = r.Number("Test accuracy:");
        Assert.True(accuracy >= 0.85f, $"test accuracy {accuracy} < 0.85 after 1 epoch\n{r.Out}");

        var model = Model.Load(dir["digits.cortex"]);
        Assert.Contains(model.Layers, l => l is Conv2D);
        var e = CliHarness.Run("evaluate", "--model", dir["digits.cortex"], "--data", "digits");
        Assert.True(e.ExitCode == 0, e.ToString());
        Assert.Equal(accuracy, e.Number("accuracy:"), 3);
    }

    [Fact]
    public void ModelResnetTrainsTheResidualGraphOnDigitsAndEvaluateReadsIt()
    {
        using var dir = new TempDir();
        var r = CliHarness.Run("train", "--data", "digits", "--model", "resnet", "--epochs", "1", "--batch-size", "64", "--plots", "none", "--out", dir.Path);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("Connected to", r.Out);            // a graph's summary
        Assert.Contains("Total params: 53,322", r.Out);
        float accuracy = r.Number("Test accuracy:");
        Assert.True(accuracy >= 0.85f, $"test accuracy {accuracy} < 0.85 after 1 epoch\n{r.Out}");
        Assert.IsType<Functional>(Model.Load(dir["digits.cortex"]));
        var e = CliHarness.Run("evaluate", "--model", dir["digits.cortex"], "--data", "digits");
        Assert.True(e.ExitCode == 0, e.ToString());
        Assert.Equal(accuracy, e.Number("accuracy:"), 3);
    }

    [Fact]
    public void ModelCnnRejectsCsvDataAndUnknownModels()
    {
        using var dir = new TempDir();
        string csv = dir.Write("roasts.csv", TestData.Blobs(rows: 40));
        var r = CliHarness.Run("train", "--data", csv, "--label", "kind", "--model", "cnn", "--out", dir.Path);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("--model cnn: needs square grayscale images", r.Err);
        var u = CliHarness.Run("train", "--model", "vgg", "--out", dir.Path);
        Assert.NotEqual(0, u.ExitCode);
        Assert.Contains("--model: unknown model 'vgg'; expected one of mlp, cnn, resnet, lstm, gru.", u.Err);
        var g = CliHarness.Run("train", "--data", csv, "--label", "kind", "--model", "gru", "--out", dir.Path);
        Assert.NotEqual(0, g.ExitCode);
        Assert.Contains("--model gru: needs square grayscale images", g.Err);
    }

    [Fact]
    public void ModelLstmReadsEachDigitRowByRowAndPredictReadsIt()
    {
        using var dir = new TempDir();
        var r = CliHarness.Run("train", "--data", "digits", "--model", "lstm", "--epochs", "2", "--batch-size", "64", "--out", dir.Path);

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("(None, 28, 28)", r.Out);    // the Reshape of the flat rows into 28 steps of 28 pixels
        Assert.Contains("(None, 128)", r.Out);
        Assert.Contains("Total params: 81,674", r.Out);
        float accuracy = r.Number("Test accuracy:");
        Assert.True(accuracy >= 0.85f, $"test accuracy {accuracy} < 0.85 after 2 epochs\n{r.Out}");
        Assert.Contains(Model.Load(dir["digits.cortex"]).Layers, l => l is LSTM);
        var e = CliHarness.Run("evaluate", "--model", dir["digits.cortex"], "--data", "digits");
        Assert.True(e.ExitCode == 0, e.ToString());
        Assert.Equal(accuracy, e.Number("accuracy:"), 3);
    }

    [Theory]
    [InlineData("adam", typeof(Adam), 0.001f)]
    [InlineData("sgd", typeof(SGD), 0.01f)]
    [InlineData("rmsprop", typeof(RMSprop), 0.001f)]
    [InlineData("nadam", typeof(Nadam), 0.001f)]
    [InlineData("lion", typeof(Lion), 0.001f)]
    public void OptimizerNamesMapToKerasDefaults(string name, Type type, float learningRate)
    {
        using var dir = new TempDir();
        string csv = dir.Write("roasts.csv", TestData.Blobs(rows: 60));
        var r = CliHarness.Run("train", "--data", csv, "--label", "kind", "--epochs", "1", "--optimizer", name, "--out", dir.Path);
        Assert.True(r.ExitCode == 0, r.ToString());
        var model = Model.Load(dir["roasts.cortex"]);
        Assert.IsType(type, model.Optimizer);
        Assert.Equal(learningRate, model.Optimizer!.LearningRate, 6);
    }

    [Fact]
    public void CsvModelLearnsFeaturesOnDifferentScales()
    {
        using var dir = new TempDir();
        string csv = dir.Write("roasts.csv", TestData.Blobs(rows: 300));
        var r = CliHarness.Run("train", "--data", csv, "--label", "kind", "--epochs", "20", "--out", dir.Path);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.True(r.Number("Test accuracy:") >= 0.95f, r.Out);
    }

    [Fact]
    public void TheSameSeedGivesTheSameHistoryAndAnotherSeedDoesNot()
    {
        using var dir = new TempDir();
        string csv = dir.Write("roasts.csv", TestData.Blobs(rows: 120));
        string History(string seed, string name)
        {
            string output = Path.Combine(dir.Path, name);
            var r = CliHarness.Run("train", "--data", csv, "--label", "kind", "--epochs", "2", "--seed", seed, "--out", output);
            Assert.True(r.ExitCode == 0, r.ToString());
            return File.ReadAllText(Path.Combine(output, "roasts-history.csv"));
        }
        string a = History("5", "a"), b = History("5", "b"), c = History("6", "c");
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void DigitsWithOtherLayersAndOneEpoch()
    {
        using var dir = new TempDir();
        var r = CliHarness.Run("train", "--data", "digits", "--layers", "16", "--activation", "sigmoid", "--epochs", "1",
            "--batch-size", "64", "--out", dir.Path);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("Epoch 1/1", r.Out);
        Assert.Contains("125/125 ━", r.Out); // 8000 / 64
        Assert.Contains("(None, 16)", r.Out);
        Assert.True(File.Exists(dir["digits.cortex"]));
    }

    [Fact]
    public void NoHiddenLayersTrainsSoftmaxRegression()
    {
        using var dir = new TempDir();
        string csv = dir.Write("roasts.csv", TestData.Blobs(rows: 60));
        var r = CliHarness.Run("train", "--data", csv, "--label", "kind", "--layers", "", "--epochs", "1", "--out", dir.Path);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(3, Model.Load(dir["roasts.cortex"]).Layers.Count); // Input, Normalization, Dense(3)
    }

    [FashionMnistFact]
    public void FashionMnistOneEpoch()
    {
        using var dir = new TempDir();
        var r = CliHarness.Run("train", "--data", "fashion-mnist", "--epochs", "1", "--out", dir.Path);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("60000 training and 10000 test images", r.Out);
        Assert.Contains("1875/1875 ━", r.Out);
        Assert.Contains("9 Ankle boot", r.Out);
        Assert.True(r.Number("Test accuracy:") >= 0.7f, r.Out);
        Assert.True(File.Exists(dir["fashion-mnist.cortex"]));

        var e = CliHarness.Run("evaluate", "--model", dir["fashion-mnist.cortex"], "--data", "fashion-mnist");
        Assert.True(e.ExitCode == 0, e.ToString());
        Assert.Contains("10000 test samples", e.Out);
        Assert.Equal(r.Number("Test accuracy:"), e.Number("accuracy:"), 3);
    }
}

/// <summary>A fact that needs Debian's dataset-fashion-mnist; CI installs it, elsewhere the test is skipped.</summary>
public sealed class FashionMnistFactAttribute : FactAttribute
{
    public FashionMnistFactAttribute()
    {
        if (!Directory.Exists(Data.Datasets.FashionMnist.DefaultDirectory))
            Skip = $"Fashion-MNIST is not installed in {Data.Datasets.FashionMnist.DefaultDirectory}: sudo apt-get install dataset-fashion-mnist";
    }
}
