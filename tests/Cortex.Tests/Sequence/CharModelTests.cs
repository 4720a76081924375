using Cortex.Data;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Tests.Sequence;

/// <summary>examples/CharModel's pieces: next-token windows, per-text encoding, and its recipe on part of the word list.</summary>
public class CharModelTests
{
    [Fact]
    public void NextTokenWindowsArePaddedContextsAndTheirNextTokens()
    {
        var (x, y) = Sequences.NextTokenWindows([[5, 1, 2, 6], [7, 8]], window: 2);
        Assert.Equal([4, 2], x.Shape);
        Assert.Equal(new float[] { 0, 5, 5, 1, 1, 2, 0, 7 }, x.ToArray());
        Assert.Equal(new float[] { 1, 2, 6, 8 }, y.ToArray());
        var (wide, _) = Sequences.NextTokenWindows([[3, 4, 5]], window: 4);
        Assert.Equal(new float[] { 0, 0, 0, 3, 0, 0, 3, 4 }, wide.ToArray());
        Assert.Contains("window must be a positive integer. Received: window=0",
            Assert.Throws<ArgumentOutOfRangeException>(() => Sequences.NextTokenWindows([[1, 2]], 0)).Message);
    }

    [Fact]
    public void EncodeIsTransformsRowWithoutThePadding()
    {
        var v = new TextVectorizer(standardize: null, split: "character");
        v.Adapt(["^cat$", "^dog$", "^cod$"]);
        int[] ids = v.Encode("^cot$");
        Assert.Equal(v.Transform(["^cot$", "^a$"]).ToArray()[..5], ids.Select(i => (float)i));
        Assert.Equal(1, v.Encode("z")[0]); // out of vocabulary: [UNK]
    }

    [Fact]
    public void TheRecipeLearnsNextCharactersOnTheFusedPath()
    {
        const string list = "/usr/share/dict/words";
        Assert.True(File.Exists(list), $"{list} is missing: sudo apt-get install wamerican (.ci/run installs it)");
        string[] words = [.. File.ReadLines(list).Where(w => w.Length is >= 3 and <= 12 && w.All(char.IsAsciiLetterLower)).Take(6000)];
        var vectorizer = new TextVectorizer(standardize: null, split: "character");
        vectorizer.Adapt(words.Select(w => $"^{w}$"));
        var (x, y) = Sequences.NextTokenWindows(words.Select(w => vectorizer.Encode($"^{w}$")), 12);
        CortexRandom.SetGlobalSeed(7);
        var model = Zoo.CharRnn(vectorizer.Vocabulary.Count);
        model.Compile(new Adam(0.005f), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        float before = model.Evaluate(x, y)["loss"];
        var history = model.Fit(x, y, epochs: 2, batchSize: 256, verbose: 0);
        Assert.Equal("fused", model.TrainingPath);
        Assert.True(history["loss"][^1] < before - 0.8f, $"loss {before} → {history["loss"][^1]}");
        Assert.True(history["accuracy"][^1] > 0.25f, $"accuracy {history["accuracy"][^1]}");
    }
}
