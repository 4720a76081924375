using System.Globalization;

namespace Cortex.Cli.Tests;

/// <summary>A CSV model and a digits model, trained once for the evaluate, predict and summary tests.</summary>
public sealed class TrainedModels : IDisposable
{
    public TempDir Dir { get; } = new();
    public string Csv { get; }
    public string CsvModel => Dir["roasts.cortex"];
    public string DigitsModel => Dir["digits.cortex"];

    public TrainedModels()
    {
        Csv = Dir.Write("roasts.csv", TestData.Blobs(rows: 300));
        var r = CliHarness.Run("train", "--data", Csv, "--label", "kind", "--epochs", "20", "--out", Dir.Path);
        Assert.True(r.ExitCode == 0, r.ToString());
        r = CliHarness.Run("train", "--epochs", "1", "--out", Dir.Path);
        Assert.True(r.ExitCode == 0, r.ToString());
    }

    public void Dispose() => Dir.Dispose();
}

public class ModelCommandTests(TrainedModels models) : IClassFixture<TrainedModels>
{
    [Fact]
    public void EvaluatePrintsLossAndAccuracyOnEveryCsvRow()
    {
        var r = CliHarness.Run("evaluate", "--model", models.CsvModel, "--data", models.Csv, "--label", "kind", "--batch-size", "7");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("300 rows, label 'kind'", r.Out);
        Assert.InRange(r.Number("loss:"), 0f, 0.5f);
        Assert.InRange(r.Number("accuracy:"), 0.95f, 1f);
        Assert.Equal("", r.Err);
    }

    [Fact]
    public void EvaluateOnDigitsUsesTheTestSplit()
    {
        var r = CliHarness.Run("evaluate", "--model", models.DigitsModel, "--data", "digits");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("digits: 2000 test samples", r.Out);
        Assert.InRange(r.Number("accuracy:"), 0.7f, 1f);
    }

    [Fact]
    public void PredictPrintsClassAndSoftmaxProbabilitiesPerRow()
    {
        using var dir = new TempDir();
        string input = dir.Write("new.csv", "temp,minutes\n200,10\n300,16\n\n\"250.5\",13\n");
        var r = CliHarness.Run("predict", "--model", models.CsvModel, "--input", input);
        Assert.True(r.ExitCode == 0, r.ToString());
        string[] lines = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal("row,class,p0,p1,p2", lines[0]);
        Assert.Equal(4, lines.Length);
        int[] expected = [0, 2, 1];
        for (int i = 0; i < 3; i++)
        {
            string[] f = lines[i + 1].Split(',');
            Assert.Equal((i + 1).ToString(CultureInfo.InvariantCulture), f[0]);
            float[] p = [.. f[2..].Select(v => float.Parse(v, CultureInfo.InvariantCulture))];
            Assert.Equal(1f, p.Sum(), 2);
            Assert.Equal(Array.IndexOf(p, p.Max()), int.Parse(f[1], CultureInfo.InvariantCulture));
            Assert.Equal(expected[i], int.Parse(f[1], CultureInfo.InvariantCulture));
        }
    }

    [Fact]
    public void PredictIgnoresTheLabelColumn()
    {
        var r = CliHarness.Run("predict", "--model", models.CsvModel, "--input", models.Csv, "--label", "kind");
        Assert.True(r.ExitCode == 0, r.ToString());
        string[] rows = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries)[1..];
        Assert.Equal(300, rows.Length);
        int correct = rows.Select((row, i) => int.Parse(row.Split(',')[1], CultureInfo.InvariantCulture) == i % 3).Count(ok => ok);
        Assert.True(correct >= 285, $"{correct}/300 predictions match the labels");
    }

    [Fact]
    public void SummaryPrintsLayersParametersAndCompileSettings()
    {
        var r = CliHarness.Run("summary", "--model", models.CsvModel);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("Model: \"roasts\"", r.Out);
        Assert.Contains("Non-trainable params: 5 ", r.Out); // the Normalization layer's mean, variance and count
        Assert.Contains("(None, 25)", r.Out);
        Assert.Contains("Total params:", r.Out);
        Assert.Contains("Compiled with optimizer Adam, loss SparseCategoricalCrossentropy, metrics accuracy.", r.Out);
    }

    [Fact]
    public void ASavedDigitsModelRejectsCsvFeatures()
    {
        var r = CliHarness.Run("evaluate", "--model", models.DigitsModel, "--data", models.Csv, "--label", "kind");
        CliHarness.AssertBadInput(r, "expects 784 features", "has 2");
    }

    [Theory]
    [InlineData("random")]
    [InlineData("truncated")]
    [InlineData("flipped")]
    public void CorruptedModelFilesAreBadInputForEveryCommand(string damage)
    {
        using var dir = new TempDir();
        byte[] bytes = File.ReadAllBytes(models.CsvModel);
        bytes = damage switch
        {
            "random" => [.. Enumerable.Range(0, 200).Select(i => (byte)(i * 37))],
            "truncated" => bytes[..(bytes.Length / 2)],
            _ => Flip(bytes),
        };
        string path = dir["bad.cortex"];
        File.WriteAllBytes(path, bytes);
        CliHarness.AssertBadInput(CliHarness.Run("summary", "--model", path), "bad.cortex");
        CliHarness.AssertBadInput(CliHarness.Run("evaluate", "--model", path, "--data", models.Csv, "--label", "kind"), "bad.cortex");
        CliHarness.AssertBadInput(CliHarness.Run("predict", "--model", path, "--input", models.Csv, "--label", "kind"), "bad.cortex");
    }

    private static byte[] Flip(byte[] bytes)
    {
        bytes[^40] ^= 0xFF;
        return bytes;
    }

    [Fact]
    public void CorruptedModelFileFailsCleanlyInARealProcess()
    {
        using var dir = new TempDir();
        string path = dir.Write("bad.cortex", "not a model");
        var r = CliHarness.RunProcess(dir.Path, "summary", "--model", path);
        CliHarness.AssertBadInput(r, "bad.cortex");
    }
}
