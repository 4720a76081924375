using Cortex.Models;

namespace Cortex.Cli.Tests;

/// <summary>cortex export and cortex import: a trained model to ONNX and back, with the same predictions; bad files get
/// one-line errors.</summary>
public class OnnxCommandTests
{
    [Fact]
    public void ExportThenImportGivesAModelThatPredictsTheSame()
    {
        using var dir = new TempDir();
        var t = CliHarness.Run("train", "--data", "digits", "--epochs", "2", "--out", dir.Path);
        Assert.True(t.ExitCode == 0, t.ToString());
        var e = CliHarness.Run("export", dir["digits.cortex"], dir["digits.onnx"]);
        Assert.True(e.ExitCode == 0, e.ToString());
        Assert.Contains("input 'input' (None, 784), output 'output' (None, 10)", e.Out);
        var i = CliHarness.Run("import", dir["digits.onnx"], dir["back.cortex"]);
        Assert.True(i.ExitCode == 0, i.ToString());
        Assert.Contains("Total params: 20,175", i.Out);
        var x = Cortex.Data.Datasets.Digits.Load().TestX.Slice(0, 50);
        Assert.Equal(Model.Load(dir["digits.cortex"]).Predict(x).ToArray(), Model.Load(dir["back.cortex"]).Predict(x).ToArray());
        var s = CliHarness.Run("summary", "--model", dir["back.cortex"]);   // an ONNX file carries no loss: uncompiled
        Assert.True(s.ExitCode == 0, s.ToString());
    }

    [Fact]
    public void ADamagedOnnxFileIsOneLineOnStderr()
    {
        using var dir = new TempDir();
        string bad = dir["bad.onnx"];
        File.WriteAllBytes(bad, [0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0x07]);
        var r = CliHarness.Run("import", bad, dir["out.cortex"]);
        Assert.Equal(1, r.ExitCode);
        Assert.Single(r.ErrLines);
        Assert.Contains("bad.onnx: not an ONNX model", r.Err);
        Assert.False(File.Exists(dir["out.cortex"]));
    }
}
