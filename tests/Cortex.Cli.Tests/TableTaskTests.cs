using System.Globalization;
using System.Text;
using System.Text.Json;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;

namespace Cortex.Cli.Tests;

/// <summary>Tables of any kind through the CLI: a regression, a multilabel table and classes that are words, each trained, evaluated and predicted on.</summary>
public class TableTaskTests
{
    [Fact]
    public void RegressionCsvTrainsEvaluatesAndPredictsValues()
    {
        using var dir = new TempDir();
        string csv = dir.Write("houses.csv", TableData.Linear(rows: 600));
        var r = CliHarness.Run("train", "--data", csv, "--label", "price", "--out", dir.Path); // the defaults: 25,15 relu, Adam 1e-3, 20 epochs

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("600 rows, 3 features, label 'price' to predict; split 480 for training and 120 for testing", r.Out);
        Assert.Contains("task: regression (label 'price' has non-integer values, such as ", r.Out);
        Assert.Contains("(None, 1)", r.Out);
        float mae = r.Number("Test MAE:");
        float std = TableData.LinearStd;
        Assert.True(mae < 0.1f * std, $"test MAE {mae} is not well below the label's standard deviation {std}\n{r.Out}");
        Assert.True(r.Number("Test RMSE:") < 0.15f * std, r.Out);
        Assert.Contains("its standard deviation on the test rows is", r.Out);
        Assert.Equal("epoch,loss,mae,root_mean_squared_error", File.ReadLines(dir["houses-history.csv"]).First());
        Assert.True(File.Exists(dir["houses-training.png"]), r.Out);     // the curves; a regression has no confusion matrix
        Assert.False(File.Exists(dir["houses-confusion.png"]));
        Assert.Contains("Plotted the training curves in ", r.Out);
        var model = Model.Load(dir["houses.cortex"]);
        Assert.IsType<MeanSquaredError>(model.Loss);
        Assert.Equal((1, "linear"), (((Dense)model.Layers[^2]).Units, ((Dense)model.Layers[^2]).Activation.Name));
        var unscale = Assert.IsType<Normalization>(model.Layers[^1]); // the labels' units, adapted on the training rows
        Assert.True(unscale.Invert);
        Assert.InRange(unscale.MeanWeight!.ToArray()[0], 15f, 21f);      // E[price] = 15 − 10 + 2.5 + 10 = 17.5
        Assert.Equal("regression", model.Metadata["cortex.task"]);

        // evaluate takes the label column from the model when --label is left out
        var e = CliHarness.Run("evaluate", "--model", dir["houses.cortex"], "--data", csv);
        Assert.True(e.ExitCode == 0, e.ToString());
        Assert.Contains("600 rows, label 'price'", e.Out);
        Assert.True(e.Number("mae:") < 0.1f * std, e.Out);
        Assert.True(e.Number("root_mean_squared_error:") < 0.15f * std, e.Out);

        string input = dir.Write("new.csv", "a,b,c\n5,5,5\n9,1,2\n0,8,10\n");
        var p = CliHarness.Run("predict", "--model", dir["houses.cortex"], "--input", input);
        Assert.True(p.ExitCode == 0, p.ToString());
        string[] lines = p.Out.Trim().Split('\n').Select(l => l.Trim()).ToArray();
        Assert.Equal("row,price", lines[0]);
        double[] expected = [TableData.LinearPrice(5, 5, 5), TableData.LinearPrice(9, 1, 2), TableData.LinearPrice(0, 8, 10)];
        for (int i = 0; i < expected.Length; i++)
        {
            string[] fields = lines[i + 1].Split(',');
            Assert.Equal((i + 1).ToString(CultureInfo.InvariantCulture), fields[0]);
            double value = double.Parse(fields[1], CultureInfo.InvariantCulture);
            Assert.True(Math.Abs(value - expected[i]) < 0.2 * std, $"row {i + 1}: predicted {value}, expected about {expected[i]}\n{p.Out}");
        }
    }

    [Fact]
    public void MultilabelCsvTrainsEvaluatesAndPredictsTheZeroOneSet()
    {
        using var dir = new TempDir();
        string csv = dir.Write("tags.csv", TableData.Tags(rows: 600));
        var r = CliHarness.Run("train", "--data", csv, "--label", "warm,big,odd", "--lr", "0.01", "--epochs", "30", "--out", dir.Path);

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("600 rows, 3 features, labels 'warm', 'big', 'odd' of 0 or 1", r.Out);
        Assert.Contains("task: multilabel (labels 'warm', 'big', 'odd' hold 0 or 1)", r.Out);
        float accuracy = r.Number("Test binary accuracy:");
        Assert.True(accuracy >= 0.93f, $"binary accuracy {accuracy} < 0.93\n{r.Out}");
        Assert.Contains("Accuracy per label: 'warm' ", r.Out);
        Assert.True(r.Number("Rows with every label right:") >= 0.8f, r.Out);
        Assert.Equal("epoch,binary_accuracy,loss", File.ReadLines(dir["tags-history.csv"]).First());
        var model = Model.Load(dir["tags.cortex"]);
        Assert.IsType<BinaryCrossentropy>(model.Loss);
        Assert.Equal((3, "sigmoid"), (((Dense)model.Layers[^1]).Units, ((Dense)model.Layers[^1]).Activation.Name));
        Assert.Equal(["warm", "big", "odd"], JsonSerializer.Deserialize<string[]>(model.Metadata["cortex.labels"])!);

        var e = CliHarness.Run("evaluate", "--model", dir["tags.cortex"], "--data", csv, "--label", "warm,big,odd");
        Assert.True(e.ExitCode == 0, e.ToString());
        Assert.True(e.Number("binary_accuracy:") >= 0.93f, e.Out);

        // The label columns may stay in the input: --label leaves them out.
        string input = dir.Write("new.csv", "x,y,z,warm,big,odd\n0.9,0.8,-0.9,,,\n-0.9,-0.8,0.9,,,\n0.8,-0.9,0.9,,,\n");
        var p = CliHarness.Run("predict", "--model", dir["tags.cortex"], "--input", input, "--label", "warm,big,odd");
        Assert.True(p.ExitCode == 0, p.ToString());
        string[] lines = p.Out.Trim().Split('\n').Select(l => l.Trim()).ToArray();
        Assert.Equal("row,warm,big,odd,p_warm,p_big,p_odd", lines[0]);
        Assert.StartsWith("1,1,1,0,", lines[1]);
        Assert.StartsWith("2,0,0,1,", lines[2]);
        Assert.StartsWith("3,1,0,1,", lines[3]);
        float pWarm = float.Parse(lines[1].Split(',')[4], CultureInfo.InvariantCulture);
        Assert.InRange(pWarm, 0.5f, 1f);
    }

    [Fact]
    public void WordLabelsAreMappedInSortedOrderSavedWithTheModelAndPrintedAsWords()
    {
        using var dir = new TempDir();
        string csv = dir.Write("flowers.csv", TableData.Flowers(rows: 300));
        var r = CliHarness.Run("train", "--data", csv, "--label", "species", "--epochs", "30", "--out", dir.Path);

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("300 rows, 2 features, label 'species' with 3 classes", r.Out);
        Assert.Contains("task: classification (label 'species' holds 3 words: setosa=0, versicolor=1, virginica=2)", r.Out);
        Assert.True(r.Number("Test accuracy:") >= 0.95f, r.Out);
        Assert.Contains("0 setosa", r.Out);     // the confusion matrix names the classes
        Assert.Contains("2 virginica", r.Out);
        var model = Model.Load(dir["flowers.cortex"]);
        Assert.Equal(["setosa", "versicolor", "virginica"], JsonSerializer.Deserialize<string[]>(model.Metadata["cortex.class_names"])!);
        var summary = CliHarness.Run("summary", "--model", dir["flowers.cortex"]);
        Assert.True(summary.ExitCode == 0, summary.ToString());
        Assert.Contains("Trained for classification on label 'species'; classes setosa=0, versicolor=1, virginica=2.", summary.Out);

        var e = CliHarness.Run("evaluate", "--model", dir["flowers.cortex"], "--data", csv);
        Assert.True(e.ExitCode == 0, e.ToString());
        Assert.True(e.Number("accuracy:") >= 0.95f, e.Out);

        string input = dir.Write("new.csv", "petal,sepal\n2,1\n6,5\n4,9\n");
        var p = CliHarness.Run("predict", "--model", dir["flowers.cortex"], "--input", input);
        Assert.True(p.ExitCode == 0, p.ToString());
        string[] lines = p.Out.Trim().Split('\n').Select(l => l.Trim()).ToArray();
        Assert.Equal("row,class,p_setosa,p_versicolor,p_virginica", lines[0]);
        Assert.StartsWith("1,virginica,", lines[1]);
        Assert.StartsWith("2,setosa,", lines[2]);
        Assert.StartsWith("3,versicolor,", lines[3]);
    }

    [Fact]
    public void TheTaskIsInferredAndSaid()
    {
        using var dir = new TempDir();
        string csv = dir.Write("roasts.csv", TestData.Blobs(rows: 60));
        var r = CliHarness.Run("train", "--data", csv, "--label", "kind", "--epochs", "1", "--out", dir.Path);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("task: classification (label 'kind' holds the integers 0 to 2; --task regression predicts it as a number)", r.Out);

        // Asked for, the same integers are a number to predict.
        var g = CliHarness.Run("train", "--data", csv, "--label", "kind", "--task", "regression", "--epochs", "1", "--out", dir["r.cortex"]);
        Assert.True(g.ExitCode == 0, g.ToString());
        Assert.Contains("task: regression (--task regression, label 'kind')", g.Out);
        Assert.IsType<MeanSquaredError>(Model.Load(dir["r.cortex"]).Loss);

        // Integers that are not class indices are refused as ambiguous, and are classes by name when asked for, sorted as numbers.
        string moods = dir.Write("moods.csv", "a,mood\n1,1\n2,-1\n3,0\n4,-1\n5,1\n6,0\n");
        CliHarness.AssertBadInput(CliHarness.Run("train", "--data", moods, "--label", "mood", "--epochs", "1", "--out", dir.Path),
            "column 'mood': expected class indices 0, 1, 2, … or numbers with fractions, but line 3 has -1", "--task classification", "--task regression");
        var c = CliHarness.Run("train", "--data", moods, "--label", "mood", "--task", "classification", "--epochs", "1", "--out", dir.Path);
        Assert.True(c.ExitCode == 0, c.ToString());
        Assert.Contains("task: classification (label 'mood' holds 3 values: -1=0, 0=1, 1=2)", c.Out);
    }

    [Fact]
    public void AModelSavedWithoutMetadataReadsClassIndicesAsBefore()
    {
        // A classifier saved from code (or by an older cortex) has no task in its metadata: one column of class indices.
        using var dir = new TempDir();
        CortexRandom.SetGlobalSeed(2);
        var model = Zoo.Mlp(2, [4], 3);
        model.Compile(new Optimizers.Adam(), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        model.Save(dir["code.cortex"]);
        Assert.Empty(Model.Load(dir["code.cortex"]).Metadata);
        string csv = dir.Write("roasts.csv", TestData.Blobs(rows: 30));

        var e = CliHarness.Run("evaluate", "--model", dir["code.cortex"], "--data", csv, "--label", "kind");
        Assert.True(e.ExitCode == 0, e.ToString());
        Assert.InRange(e.Number("accuracy:"), 0f, 1f);
        var p = CliHarness.Run("predict", "--model", dir["code.cortex"], "--input", csv, "--label", "kind");
        Assert.True(p.ExitCode == 0, p.ToString());
        Assert.StartsWith("row,class,p0,p1,p2", p.Out);
        string words = dir.Write("words.csv", "temp,minutes,kind\n200,10,0\n250,13,dark\n");
        CliHarness.AssertBadInput(CliHarness.Run("evaluate", "--model", dir["code.cortex"], "--data", words, "--label", "kind"),
            words, "line 3", "column 'kind'", "label dark is not one of the model's classes", "class index 0 to 2");
    }

    [Fact]
    public void NormalizeIsOnForCsvByDefaultAndCanBeTurnedOff()
    {
        using var dir = new TempDir();
        string csv = dir.Write("roasts.csv", TestData.Blobs(rows: 60));
        var off = CliHarness.Run("train", "--data", csv, "--label", "kind", "--normalize", "false", "--epochs", "1", "--out", dir["off.cortex"]);
        Assert.True(off.ExitCode == 0, off.ToString());
        Assert.DoesNotContain(Model.Load(dir["off.cortex"]).Layers, l => l is Normalization);
        var on = CliHarness.Run("train", "--data", csv, "--label", "kind", "--normalize", "--epochs", "1", "--out", dir["on.cortex"]);
        Assert.True(on.ExitCode == 0, on.ToString());
        var norm = Assert.IsType<Normalization>(Model.Load(dir["on.cortex"]).Layers[1]);
        // adapted on the 48 training rows (80% of 60), not on all of them
        Assert.Equal(48f, norm.CountWeight!.ToArray()[0]);
    }
}

/// <summary>Bad tables for each task: exit code 1 and one line naming the file, the line, the column, what was expected and found.</summary>
public class TableBadInputTests
{
    [Theory]
    [InlineData("a,b,price\n1,2,3.5\n2,x,4.5\n", "price", null, "line 3", "column 'b'", "expected a finite number", "'x'")]
    [InlineData("a,b,y\n1,2,3.5\n2,3,4.5\n", "price", null, "no column 'price'", "'a', 'b', 'y'")]
    [InlineData("a,b,y\n1,2,3.5\n2,3,4.5\n", "Y", null, "no column 'Y'", "Did you mean 'y'?")]
    [InlineData("a,p,q\n1,0,1\n2,2,0\n", "p,q", null, "line 3", "column 'p'", "expected 0 or 1 in a multilabel column", "--task regression", "'2'")]
    [InlineData("a,p,q\n1,0,1\n2,1,x\n", "p,q", "multilabel", "line 3", "column 'q'", "expected 0 or 1", "'x'")]
    [InlineData("a,y\n1,2.5\n2,abc\n", "y", "regression", "line 3", "column 'y'", "expected a number to predict", "'abc'")]
    [InlineData("a,y\n1,2.5\n2,abc\n", "y", null, "column 'y' mixes numbers", "'2.5' on line 2", "'abc' on line 3", "--task classification")]
    [InlineData("a,y\n1,\n2,cat\n", "y", null, "line 2", "column 'y'", "empty cell")]
    [InlineData("a,y\n1,cat\n2,cat\n", "y", null, "only one class, 'cat'")]
    [InlineData("a,stars\n1,1\n2,5\n3,2\n", "stars", null, "column 'stars'", "each of 0 to 5", "0 never appears", "--task classification", "--task regression")]
    [InlineData("a,p,q\n1,0,1\n2,1,0\n", "p,q", "classification", "--task classification takes one --label column", "'p', 'q'")]
    [InlineData("a,y\n1,0\n2,1\n", "y", "clustering", "--task: unknown task 'clustering'", "regression, multilabel")]
    [InlineData("p,q\n0,1\n1,0\n", "p,q", null, "no feature columns")]
    public void BadTablesForTraining(string contents, string label, string? task, params string[] fragments)
    {
        using var dir = new TempDir();
        string csv = dir.Write("bad.csv", contents);
        string[] args = ["train", "--data", csv, "--label", label, "--epochs", "1", "--out", dir.Path, .. task != null ? new[] { "--task", task } : []];
        // Errors about a cell or column name the file; those about the options name the option.
        CliHarness.AssertBadInput(CliHarness.Run(args), [.. fragments, .. fragments[0].StartsWith("--task") ? [] : new[] { csv }]);
        Assert.False(File.Exists(dir["bad.cortex"]));
    }

    [Theory]
    [InlineData(new[] { "train", "--task", "regression" }, "--task applies to CSV data only")]
    [InlineData(new[] { "train", "--model", "cnn", "--normalize" }, "--normalize applies to --model mlp")]
    public void OptionsThatDoNotApply(string[] args, params string[] fragments) =>
        CliHarness.AssertBadInput(CliHarness.Run(args), fragments);

    [Fact]
    public void EvaluateAndPredictOnAWordModelWithAnUnseenWord()
    {
        using var dir = new TempDir();
        string csv = dir.Write("flowers.csv", TableData.Flowers(rows: 60));
        Assert.Equal(0, CliHarness.Run("train", "--data", csv, "--label", "species", "--epochs", "1", "--out", dir.Path).ExitCode);
        string other = dir.Write("other.csv", "petal,sepal,species\n2,1,virginica\n6,5,rose\n");
        CliHarness.AssertBadInput(CliHarness.Run("evaluate", "--model", dir["flowers.cortex"], "--data", other),
            other, "line 3", "column 'species'", "'rose' is not one of the model's classes", "expected one of setosa, versicolor, virginica");
        // predict leaves the label column out when told, whatever it holds; without --label it is a feature too many
        var p = CliHarness.Run("predict", "--model", dir["flowers.cortex"], "--input", other, "--label", "species");
        Assert.True(p.ExitCode == 0, p.ToString());
        CliHarness.AssertBadInput(CliHarness.Run("predict", "--model", dir["flowers.cortex"], "--input", other), "expects 2 features", "has 3 columns", "pass --label species");
    }

    [Fact]
    public void EvaluateARegressionOrMultilabelModelOnBadLabels()
    {
        using var dir = new TempDir();
        string houses = dir.Write("houses.csv", TableData.Linear(rows: 40));
        Assert.Equal(0, CliHarness.Run("train", "--data", houses, "--label", "price", "--epochs", "1", "--out", dir.Path).ExitCode);
        string bad = dir.Write("bad.csv", "a,b,c,price\n1,2,3,4.5\n1,2,3,n/a\n");
        CliHarness.AssertBadInput(CliHarness.Run("evaluate", "--model", dir["houses.cortex"], "--data", bad), bad, "line 3", "column 'price'", "expected a number to predict", "'n/a'");
        CliHarness.AssertBadInput(CliHarness.Run("evaluate", "--model", dir["houses.cortex"], "--data", houses, "--label", "a,b"), "trained on 1 label column(s) ('price'); received 2");
        CliHarness.AssertBadInput(CliHarness.Run("evaluate", "--model", dir["houses.cortex"], "--data", "digits"), "trained on a table", "expected a CSV file");

        string tags = dir.Write("tags.csv", TableData.Tags(rows: 40));
        Assert.Equal(0, CliHarness.Run("train", "--data", tags, "--label", "warm,big,odd", "--epochs", "1", "--out", dir.Path).ExitCode);
        string wrong = dir.Write("wrong.csv", "x,y,z,warm,big,odd\n0.1,0.2,0.3,1,0,1\n0.1,0.2,0.3,1,0.5,1\n");
        CliHarness.AssertBadInput(CliHarness.Run("evaluate", "--model", dir["tags.cortex"], "--data", wrong), wrong, "line 3", "column 'big'", "expected 0 or 1", "'0.5'");
    }
}

/// <summary>Tables with a known answer for each task.</summary>
public static class TableData
{
    /// <summary>The price of a house with features a, b, c in [0, 10]: a linear function the model must find.</summary>
    public static double LinearPrice(double a, double b, double c) => 3 * a - 2 * b + 0.5 * c + 10;

    /// <summary>The price's standard deviation over uniform features: √((9 + 4 + 0.25)·100/12).</summary>
    public static readonly float LinearStd = (float)Math.Sqrt(13.25 * 100 / 12);

    /// <summary><c>a,b,c,price</c>: <see cref="LinearPrice"/> plus noise of ±0.25.</summary>
    public static string Linear(int rows, int seed = 3)
    {
        var rng = new Random(seed);
        var sb = new StringBuilder("a,b,c,price\n");
        for (int i = 0; i < rows; i++)
        {
            double a = rng.NextDouble() * 10, b = rng.NextDouble() * 10, c = rng.NextDouble() * 10;
            double price = LinearPrice(a, b, c) + (rng.NextDouble() * 2 - 1) * 0.25;
            sb.Append(CultureInfo.InvariantCulture, $"{a:0.000},{b:0.000},{c:0.000},{price:0.000}\n");
        }
        return sb.ToString();
    }

    /// <summary><c>x,y,z,warm,big,odd</c> with x, y, z in [−1, 1]: warm = x &gt; 0, big = x + y &gt; 0, odd = z &gt; 0.</summary>
    public static string Tags(int rows, int seed = 5)
    {
        var rng = new Random(seed);
        var sb = new StringBuilder("x,y,z,warm,big,odd\n");
        for (int i = 0; i < rows; i++)
        {
            double x = rng.NextDouble() * 2 - 1, y = rng.NextDouble() * 2 - 1, z = rng.NextDouble() * 2 - 1;
            sb.Append(CultureInfo.InvariantCulture, $"{x:0.000},{y:0.000},{z:0.000},{(x > 0 ? 1 : 0)},{(x + y > 0 ? 1 : 0)},{(z > 0 ? 1 : 0)}\n");
        }
        return sb.ToString();
    }

    /// <summary>
    /// <c>petal,sepal,species</c>: three clusters, near (2, 1) virginica, (6, 5) setosa and (4, 9) versicolor — named
    /// out of sorted order, so that a mapping by first appearance would differ from the sorted one.
    /// </summary>
    public static string Flowers(int rows, int seed = 7)
    {
        var rng = new Random(seed);
        (double, double, string)[] centres = [(2, 1, "virginica"), (6, 5, "setosa"), (4, 9, "versicolor")];
        var sb = new StringBuilder("petal,sepal,species\n");
        for (int i = 0; i < rows; i++)
        {
            var (p, s, name) = centres[i % 3];
            sb.Append(CultureInfo.InvariantCulture, $"{p + (rng.NextDouble() * 2 - 1) * 0.8:0.00},{s + (rng.NextDouble() * 2 - 1) * 0.8:0.00},{name}\n");
        }
        return sb.ToString();
    }
}
