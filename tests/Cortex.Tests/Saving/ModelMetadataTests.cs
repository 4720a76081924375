using System.Text.Json.Nodes;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Tests.Data;

namespace Cortex.Tests.Saving;

/// <summary><see cref="Model.Metadata"/>: saved with the model as an optional object of strings, read back as text only.</summary>
public class ModelMetadataTests
{
    private static Sequential Small()
    {
        CortexRandom.SetGlobalSeed(11);
        var m = new Sequential(new Input([2]), new Dense(3));
        m.Compile(new Adam(), new SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        return m;
    }

    [Fact]
    public void MetadataRoundTripsAsSortedStrings()
    {
        using var dir = new TempDir();
        var m = Small();
        m.Metadata["zeta"] = "last";
        m.Metadata["class_names"] = "[\"setosa\",\"versicolor\",\"virginica\"]";
        m.Metadata["empty"] = "";
        m.Metadata["unicode"] = "Zürich, 東京";
        string path = dir.File("m.cortex");
        m.Save(path);

        var loaded = Model.Load(path);
        Assert.Equal(["class_names", "empty", "unicode", "zeta"], loaded.Metadata.Keys);
        Assert.Equal("[\"setosa\",\"versicolor\",\"virginica\"]", loaded.Metadata["class_names"]);
        Assert.Equal("", loaded.Metadata["empty"]);
        Assert.Equal("Zürich, 東京", loaded.Metadata["unicode"]);
        var json = ModelFileLoaderTests.Parse(File.ReadAllBytes(path)).Json;
        Assert.Equal("last", (string?)json["metadata"]!["zeta"]);
    }

    [Fact]
    public void AModelWithoutMetadataWritesNoKeySoItsFileIsAsBefore()
    {
        using var dir = new TempDir();
        string path = dir.File("m.cortex");
        Small().Save(path);
        var json = ModelFileLoaderTests.Parse(File.ReadAllBytes(path)).Json;
        Assert.False(json.ContainsKey("metadata"));
        Assert.Empty(Model.Load(path).Metadata);
    }

    [Theory]
    [InlineData("v1-adam-trained")]
    [InlineData("v1-adam-compiled")]
    public void FilesWrittenBeforeMetadataExistedLoadWithNone(string name)
    {
        var m = Model.Load(Path.Combine(AppContext.BaseDirectory, "fixtures", name + ".cortex"));
        Assert.Empty(m.Metadata);
    }

    [Fact]
    public void ValuesThatNameClassesStayText()
    {
        // A value that reads like a saved layer is never looked up or instantiated: saving does not refuse it as an
        // unknown class, and loading returns the same text.
        using var dir = new TempDir();
        var m = Small();
        m.Metadata["class_name"] = "System.Diagnostics.Process";
        m.Metadata["config"] = "{\"class_name\":\"Evil\",\"config\":{}}";
        string path = dir.File("m.cortex");
        m.Save(path);
        var loaded = Model.Load(path);
        Assert.Equal("System.Diagnostics.Process", loaded.Metadata["class_name"]);
        Assert.Equal("{\"class_name\":\"Evil\",\"config\":{}}", loaded.Metadata["config"]);
        Assert.IsType<Dense>(loaded.Layers[^1]);
    }

    [Theory]
    [InlineData("{\"class_name\":\"Dense\",\"config\":{\"units\":3}}", "key 'metadata', entry 'layer'", "expected a string")]
    [InlineData("42", "key 'metadata'", "expected an object of strings")]
    [InlineData("[\"a\"]", "key 'metadata'", "expected an object of strings")]
    public void MetadataThatIsNotStringsIsRefused(string value, params string[] fragments)
    {
        using var dir = new TempDir();
        string path = dir.File("m.cortex");
        Small().Save(path);
        var (json, floats) = ModelFileLoaderTests.Parse(File.ReadAllBytes(path));
        json["metadata"] = value.StartsWith('{') ? new JsonObject { ["layer"] = JsonNode.Parse(value) } : JsonNode.Parse(value);
        string forged = dir.Write("forged.cortex", ModelFileLoaderTests.Forge(json.ToJsonString(), floats));
        var e = Assert.Throws<InvalidDataException>(() => Model.Load(forged));
        Assert.Contains(forged, e.Message);
        foreach (string f in fragments) Assert.Contains(f, e.Message);
    }
}
