using System.Globalization;
using System.Text.Json;

namespace Cortex.Playground;

/// <summary>A request the server refuses with 400 and this message.</summary>
public sealed class BadSettingsException(string message) : Exception(message);

/// <summary>
/// Everything that defines a playground setup: data, features, network and training. The page keeps the same fields in
/// its URL, so a link reproduces a setup. Every field is checked against the bounds below; nothing here is trusted.
/// </summary>
public sealed record Settings
{
    public const int MaxHiddenLayers = 6, MaxNeurons = 8;
    public const float MinLearningRate = 1e-5f, MaxLearningRate = 10f, MaxRegularizationRate = 10f;

    public static readonly string[] ClassificationDatasets = ["circle", "xor", "gauss", "spiral"];
    public static readonly string[] RegressionDatasets = ["plane", "multigauss"];
    public static readonly string[] Activations = ["relu", "tanh", "sigmoid", "linear"];
    public static readonly string[] Regularizations = ["none", "l1", "l2"];
    public static readonly string[] Optimizers = ["sgd", "adam"];
    public static readonly string[] Problems = ["classification", "regression"];

    public string Problem { get; init; } = "classification";
    public string Dataset { get; init; } = "circle";
    /// <summary>Noise in percent, 0–50.</summary>
    public int Noise { get; init; }
    /// <summary>Share of the points used for training, in percent, 10–90.</summary>
    public int TrainRatio { get; init; } = 50;
    public int BatchSize { get; init; } = 10;
    /// <summary>Seeds the data (and, with the reset count, the initial weights).</summary>
    public int Seed { get; init; } = 1;
    public string[] Features { get; init; } = ["x1", "x2"];
    /// <summary>Neurons per hidden layer.</summary>
    public int[] Layers { get; init; } = [4, 2];
    public string Activation { get; init; } = "tanh";
    public float LearningRate { get; init; } = 0.03f;
    public string Regularization { get; init; } = "none";
    public float RegularizationRate { get; init; }
    public string Optimizer { get; init; } = "sgd";

    /// <summary>Whether a change from <paramref name="other"/> needs new data or a new network (and so a reset).</summary>
    public bool NeedsReset(Settings other) =>
        Problem != other.Problem || Dataset != other.Dataset || Noise != other.Noise || TrainRatio != other.TrainRatio ||
        Seed != other.Seed || !Features.SequenceEqual(other.Features) || !Layers.SequenceEqual(other.Layers) ||
        Activation != other.Activation;

    public bool SameData(Settings other) =>
        Problem == other.Problem && Dataset == other.Dataset && Noise == other.Noise && TrainRatio == other.TrainRatio && Seed == other.Seed;

    /// <summary>Returns these settings with the fields present in <paramref name="json"/> replaced, all checked.</summary>
    /// <exception cref="BadSettingsException">A field is unknown, of the wrong type or out of range.</exception>
    public Settings Merge(JsonElement json)
    {
        if (json.ValueKind != JsonValueKind.Object) throw new BadSettingsException($"Settings must be a JSON object. Received: {json.ValueKind}");
        var s = this;
        foreach (var p in json.EnumerateObject())
        {
            var v = p.Value;
            s = p.Name switch
            {
                "problem" => s with { Problem = OneOf(p.Name, v, Problems) },
                "dataset" => s with { Dataset = OneOf(p.Name, v, [.. ClassificationDatasets, .. RegressionDatasets]) },
                "noise" => s with { Noise = Int(p.Name, v, 0, 50) },
                "trainRatio" => s with { TrainRatio = Int(p.Name, v, 10, 90) },
                "batchSize" => s with { BatchSize = Int(p.Name, v, 1, 30) },
                "seed" => s with { Seed = Int(p.Name, v, 0, int.MaxValue) },
                "features" => s with { Features = FeatureList(v) },
                "layers" => s with { Layers = LayerList(v) },
                "activation" => s with { Activation = OneOf(p.Name, v, Activations) },
                "learningRate" => s with { LearningRate = Float(p.Name, v, MinLearningRate, MaxLearningRate) },
                "regularization" => s with { Regularization = OneOf(p.Name, v, Regularizations) },
                "regularizationRate" => s with { RegularizationRate = Float(p.Name, v, 0, MaxRegularizationRate) },
                "optimizer" => s with { Optimizer = OneOf(p.Name, v, Optimizers) },
                _ => throw new BadSettingsException($"Unknown setting '{Clip(p.Name)}'. Expected one of: problem, dataset, noise, trainRatio, batchSize, seed, features, layers, activation, learningRate, regularization, regularizationRate, optimizer."),
            };
        }
        // A dataset belongs to one problem type; switching the problem alone picks that type's first dataset.
        bool classification = s.Problem == "classification";
        if (classification != ClassificationDatasets.Contains(s.Dataset))
        {
            if (json.TryGetProperty("dataset", out _) && json.TryGetProperty("problem", out _))
                throw new BadSettingsException($"Dataset '{s.Dataset}' is not a {s.Problem} dataset. Expected one of: {string.Join(", ", classification ? ClassificationDatasets : RegressionDatasets)}.");
            if (json.TryGetProperty("dataset", out _)) s = s with { Problem = classification ? "regression" : "classification" };
            else s = s with { Dataset = classification ? ClassificationDatasets[0] : RegressionDatasets[0] };
        }
        return s;
    }

    /// <summary>The settings as the JSON the page and <see cref="Merge"/> use.</summary>
    public Dictionary<string, object> ToJson() => new()
    {
        ["problem"] = Problem, ["dataset"] = Dataset, ["noise"] = Noise, ["trainRatio"] = TrainRatio, ["batchSize"] = BatchSize,
        ["seed"] = Seed, ["features"] = Features, ["layers"] = Layers, ["activation"] = Activation, ["learningRate"] = LearningRate,
        ["regularization"] = Regularization, ["regularizationRate"] = RegularizationRate, ["optimizer"] = Optimizer,
    };

    private static string Clip(string s) => s.Length <= 40 ? s : s[..40] + "…";

    private static string OneOf(string name, JsonElement v, IReadOnlyList<string> allowed)
    {
        if (v.ValueKind != JsonValueKind.String) throw new BadSettingsException($"'{name}' must be a string, one of: {string.Join(", ", allowed)}. Received: {v.ValueKind}");
        string s = v.GetString()!;
        if (!allowed.Contains(s)) throw new BadSettingsException($"'{name}' must be one of: {string.Join(", ", allowed)}. Received: '{Clip(s)}'");
        return s;
    }

    private static int Int(string name, JsonElement v, int min, int max)
    {
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out long n))
            throw new BadSettingsException($"'{name}' must be an integer in [{min}, {max}]. Received: {Clip(v.GetRawText())}");
        if (n < min || n > max) throw new BadSettingsException($"'{name}' must be in [{min}, {max}]. Received: {n}");
        return (int)n;
    }

    private static float Float(string name, JsonElement v, float min, float max)
    {
        string range = $"[{min.ToString(CultureInfo.InvariantCulture)}, {max.ToString(CultureInfo.InvariantCulture)}]";
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double d) || !double.IsFinite(d))
            throw new BadSettingsException($"'{name}' must be a number in {range}. Received: {Clip(v.GetRawText())}");
        if (d < min * (1 - 1e-6) || d > max) throw new BadSettingsException($"'{name}' must be in {range}. Received: {d.ToString(CultureInfo.InvariantCulture)}");
        return (float)d;
    }

    private static string[] FeatureList(JsonElement v)
    {
        if (v.ValueKind != JsonValueKind.Array) throw new BadSettingsException($"'features' must be an array of names from: {string.Join(", ", InputFeatures.Ids)}.");
        var chosen = new HashSet<string>();
        foreach (var e in v.EnumerateArray()) chosen.Add(OneOf("features", e, InputFeatures.Ids));
        if (chosen.Count == 0) throw new BadSettingsException("'features' must name at least one input feature.");
        return [.. InputFeatures.Ids.Where(chosen.Contains)]; // canonical order, so equal sets compare equal
    }

    private static int[] LayerList(JsonElement v)
    {
        if (v.ValueKind != JsonValueKind.Array) throw new BadSettingsException($"'layers' must be an array of neuron counts (at most {MaxHiddenLayers} layers of 1–{MaxNeurons} neurons).");
        if (v.GetArrayLength() > MaxHiddenLayers) throw new BadSettingsException($"'layers' may have at most {MaxHiddenLayers} hidden layers. Received: {v.GetArrayLength()}");
        return [.. v.EnumerateArray().Select(e => Int("layers", e, 1, MaxNeurons))];
    }
}
