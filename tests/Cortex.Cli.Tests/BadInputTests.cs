namespace Cortex.Cli.Tests;

/// <summary>Bad usage and bad input: exit code 1 and one clear line on stderr, never a stack trace.</summary>
public class BadInputTests
{
    [Theory]
    [InlineData(new[] { "train", "--optimizer", "foo" }, "unknown optimizer 'foo'", "adam, sgd, rmsprop")]
    [InlineData(new[] { "train", "--activation", "swishy" }, "unknown activation 'swishy'", "relu", "tanh")]
    [InlineData(new[] { "train", "--layers", "12,x" }, "--layers", "'x'")]
    [InlineData(new[] { "train", "--layers", "0" }, "--layers")]
    [InlineData(new[] { "train", "--epochs", "0" }, "--epochs", "positive")]
    [InlineData(new[] { "train", "--epochs", "ten" }, "'ten'", "--epochs")]
    [InlineData(new[] { "train", "--batch-size", "-4" }, "--batch-size", "positive")]
    [InlineData(new[] { "train", "--lr", "-0.1" }, "--lr")]
    [InlineData(new[] { "train", "--validation-split", "1.5" }, "--validation-split", "[0, 1)")]
    [InlineData(new[] { "train", "--data", "cifar" }, "unknown data set 'cifar'", "digits, fashion-mnist")]
    [InlineData(new[] { "train", "--data", "missing.csv", "--label", "y" }, "no file 'missing.csv'")]
    [InlineData(new[] { "train", "--label", "y" }, "--label applies to CSV data only")]
    [InlineData(new[] { "train", "--no-such-option" }, "'--no-such-option'", "cortex train --help")]
    [InlineData(new[] { "fit" }, "'fit'")]
    [InlineData(new string[0], "Required command")]
    [InlineData(new[] { "evaluate", "--data", "digits" }, "'--model' is required")]
    [InlineData(new[] { "evaluate", "--model", "nowhere.cortex", "--data", "digits" }, "nowhere.cortex")]
    [InlineData(new[] { "predict", "--model", "nowhere.cortex", "--input", "x.csv" }, "nowhere.cortex")]
    [InlineData(new[] { "summary", "--model", "nowhere.cortex" }, "not found", "nowhere.cortex")]
    [InlineData(new[] { "summary" }, "'--model' is required")]
    public void UsageErrors(string[] args, params string[] fragments) =>
        CliHarness.AssertBadInput(CliHarness.Run(args), fragments);

    [Theory]
    [InlineData("temp,minutes,kind\n1,2,0\n3,abc,1\n", "kind", "line 3", "'minutes'", "'abc'")]
    [InlineData("temp,minutes,kind\n1,2,0\n3,,1\n", "kind", "line 3", "empty cell")]
    [InlineData("temp,minutes,kind\n1,2,0\n3,4\n", "kind", "line 3", "2 field(s)")]
    [InlineData("temp,minutes,kind\n1,2,0\n3,4,1\n", "label", "no column 'label'", "'kind'")]
    [InlineData("temp,minutes,kind\n1,2,0\n3,4,-1\n", "kind", "class indices", "-1")]
    [InlineData("temp,minutes,kind\n1,2,0\n3,4,0\n", "kind", "only class 0")]
    [InlineData("temp,minutes,kind\n1,2,1\n", "kind", "at least 2")]
    [InlineData("", "kind", "empty")]
    public void BadCsvFilesForTraining(string contents, string label, params string[] fragments)
    {
        using var dir = new TempDir();
        string csv = dir.Write("bad.csv", contents);
        CliHarness.AssertBadInput(CliHarness.Run("train", "--data", csv, "--label", label, "--epochs", "1", "--out", dir.Path), fragments);
        Assert.False(File.Exists(dir["bad.cortex"]));
    }

    [Fact]
    public void CsvWithoutLabelOption()
    {
        using var dir = new TempDir();
        string csv = dir.Write("data.csv", TestData.Blobs(rows: 30));
        CliHarness.AssertBadInput(CliHarness.Run("train", "--data", csv), "pass --label COLUMN");
    }

    [Theory]
    [InlineData("temp,minutes\n1,2\n3,x\n", null, "line 3", "'minutes'", "'x'")]
    [InlineData("temp,minutes\n1,2\n3\n", null, "line 3", "1 field(s)")]
    [InlineData("temp\n1\n", null, "expects 2 features", "has 1", "columns: temp")]
    [InlineData("temp,minutes,kind\n1,2,0\n", null, "expects 2 features", "has 3", "--label")]
    [InlineData("temp,minutes,kind\n1,2,0\n", "label", "no column 'label'")]
    [InlineData("temp,minutes\n", null, "no data rows")]
    [InlineData("temp,minutes\n\"1,2\n", null, "never closed")]
    [InlineData("", null, "empty")]
    public void BadInputFilesForPredict(string contents, string? label, params string[] fragments)
    {
        using var dir = new TempDir();
        string csv = dir.Write("train.csv", TestData.Blobs(rows: 30));
        Assert.Equal(0, CliHarness.Run("train", "--data", csv, "--label", "kind", "--epochs", "1", "--out", dir.Path).ExitCode);
        string input = dir.Write("input.csv", contents);
        string[] args = ["predict", "--model", dir["train.cortex"], "--input", input, .. label != null ? new[] { "--label", label } : []];
        CliHarness.AssertBadInput(CliHarness.Run(args), fragments);
    }

    [Fact]
    public void OutputDirectoryThatCannotBeCreated()
    {
        using var dir = new TempDir();
        string file = dir.Write("blocker", "a file where --out wants a directory");
        CliHarness.AssertBadInput(CliHarness.Run("train", "--epochs", "1", "--out", Path.Combine(file, "models")), "--out", "cannot create");
    }

    [Fact]
    public void MissingPredictInput()
    {
        using var dir = new TempDir();
        string csv = dir.Write("train.csv", TestData.Blobs(rows: 30));
        Assert.Equal(0, CliHarness.Run("train", "--data", csv, "--label", "kind", "--epochs", "1", "--out", dir.Path).ExitCode);
        CliHarness.AssertBadInput(CliHarness.Run("predict", "--model", dir["train.cortex"], "--input", dir["none.csv"]), "no file", "none.csv");
    }

    [Fact]
    public void EvaluateWithLabelsOutsideTheModelsClasses()
    {
        using var dir = new TempDir();
        string csv = dir.Write("train.csv", TestData.Blobs(rows: 30));
        Assert.Equal(0, CliHarness.Run("train", "--data", csv, "--label", "kind", "--epochs", "1", "--out", dir.Path).ExitCode);
        string other = dir.Write("other.csv", "temp,minutes,kind\n200,10,0\n300,16,5\n");
        CliHarness.AssertBadInput(CliHarness.Run("evaluate", "--model", dir["train.cortex"], "--data", other, "--label", "kind"), "label 5");
    }

    [Fact]
    public void UnknownOptionValueInARealProcess()
    {
        using var dir = new TempDir();
        var r = CliHarness.RunProcess(dir.Path, "train", "--optimizer", "foo");
        CliHarness.AssertBadInput(r, "unknown optimizer 'foo'", "adam, sgd, rmsprop");
        Assert.Equal("", r.Out);
    }
}
