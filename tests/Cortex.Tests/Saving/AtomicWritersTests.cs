using Cortex.Callbacks;
using Cortex.Data;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Tests.Data;
using Cortex.Tests.Models;

namespace Cortex.Tests.Saving;

/// <summary>
/// The writers besides Model.Save that go through AtomicFile: Idx.Write and CsvLogger. Each write is a new file renamed
/// over the old one, never bytes written into it, so a handle opened on the old file keeps reading it whole (a writer
/// that truncated and rewrote in place, or appended, would show that handle the new bytes); and the next write removes
/// the temporary file of a writer that died.
/// </summary>
public class AtomicWritersTests
{
    // As in CrashSafeSaveTests: no live process has this id.
    private const int DeadPid = 2_147_483_646;

    private static FileStream OpenShared(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void IdxWriteReplacesTheFileWhole(bool gzip)
    {
        using var dir = new TempDir();
        string path = dir.File("images.idx3");
        Idx.Write(path, [.. Enumerable.Range(0, 18).Select(i => (byte)i)], [2, 3, 3], gzip);
        byte[] oldFile = File.ReadAllBytes(path);
        string stale = dir.Write($".images.idx3.{DeadPid}.{Guid.NewGuid():N}.tmp", new byte[100]); // a writer killed mid-write
        using (var reader = OpenShared(path))
        {
            Idx.Write(path, [7], [1], gzip);
            var seen = new MemoryStream();
            reader.CopyTo(seen);
            Assert.Equal(oldFile, seen.ToArray());
        }
        Assert.Equal([7], Idx.Read(path).Data);
        Assert.False(File.Exists(stale), "the dead writer's temporary file is still there");
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }

    private static Sequential Compiled()
    {
        CortexRandom.SetGlobalSeed(7);
        var model = new Sequential(new Dense(1, "sigmoid"));
        model.Compile(new Adam(0.01f), new BinaryCrossentropy(), ["accuracy"]);
        return model;
    }

    /// <summary>Opens the file after each epoch (after the CsvLogger before it in the list) and keeps the handle.</summary>
    private sealed class OpenAfterEachEpoch(string path, List<FileStream> opened) : Callback
    {
        public override void OnEpochEnd(int epoch, IReadOnlyDictionary<string, float> logs) => opened.Add(OpenShared(path));
    }

    [Fact]
    public void CsvLoggerWritesEachEpochsWholeHistoryAsANewFile()
    {
        using var dir = new TempDir();
        string path = dir.File("log.csv");
        var (x, y) = TrainingLoopTests.Data();
        var opened = new List<FileStream>();
        try
        {
            Compiled().Fit(x, y, epochs: 3, verbose: 0, callbacks: [new CsvLogger(path), new OpenAfterEachEpoch(path, opened)]);
            // Each handle still reads the file of its epoch, complete: the header and one row per epoch so far.
            for (int epoch = 0; epoch < 3; epoch++)
            {
                string[] lines = new StreamReader(opened[epoch]).ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
                Assert.Equal("epoch,accuracy,loss", lines[0]);
                Assert.Equal(Enumerable.Range(0, epoch + 1).Select(e => $"{e}"), lines[1..].Select(l => l.Split(',')[0]));
                Assert.All(lines[1..], l => Assert.Equal(3, l.Split(',').Length));
            }
        }
        finally
        {
            foreach (var f in opened) f.Dispose();
        }
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void CsvLoggerAppendsAfterATornRowOnANewLine()
    {
        using var dir = new TempDir();
        // An appending writer killed mid-row left "1,0.6" without its loss or newline.
        string path = dir.WriteText("log.csv", "epoch,accuracy,loss\n0,0.5,0.69\n1,0.6");
        var (x, y) = TrainingLoopTests.Data();
        Compiled().Fit(x, y, epochs: 2, verbose: 0, callbacks: [new CsvLogger(path, append: true)]);
        string[] lines = File.ReadAllLines(path);
        Assert.Equal(["epoch,accuracy,loss", "0,0.5,0.69", "1,0.6"], lines[..3]);
        Assert.Equal(5, lines.Length);
        for (int epoch = 0; epoch < 2; epoch++)
        {
            string[] cells = lines[3 + epoch].Split(',');
            Assert.Equal(epoch.ToString(System.Globalization.CultureInfo.InvariantCulture), cells[0]);
            Assert.Equal(3, cells.Length);
            Assert.All(cells[1..], c => Assert.True(float.IsFinite(float.Parse(c, System.Globalization.CultureInfo.InvariantCulture)), $"cell '{c}'"));
        }
    }
}
