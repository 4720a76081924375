namespace Cortex.Playground;

/// <summary>One input feature the network can be given: a function of a point's position (x₁, x₂).</summary>
/// <param name="Id">Its name in settings and links, e.g. <c>x1sq</c>.</param>
/// <param name="Label">The page's label for it, as HTML, e.g. <c>X&lt;sub&gt;1&lt;/sub&gt;&lt;sup&gt;2&lt;/sup&gt;</c>.</param>
/// <param name="Code">The C# expression in <c>x1</c> and <c>x2</c> that the generated program computes it with.</param>
/// <param name="Value">Computes it: <c>Value(x1, x2)</c>.</param>
/// <param name="Scale">Its largest magnitude over the input square; its picture divides by this to fill [−1, 1].</param>
public sealed record Feature(string Id, string Label, string Code, Func<float, float, float> Value, float Scale);

/// <summary>
/// The playground's input features, in the order the network sees them: the one list that the training, the generated
/// program, the settings' checks and the page (through <c>GET /api/features</c>, which also draws each one) read.
/// </summary>
public static class InputFeatures
{
    private const float E = PlaygroundData.Extent;

    /// <summary>Every feature, in the order the page lists them and the network sees them.</summary>
    public static IReadOnlyList<Feature> All { get; } =
    [
        new("x1", "X<sub>1</sub>", "x1", (x1, _) => x1, E),
        new("x2", "X<sub>2</sub>", "x2", (_, x2) => x2, E),
        new("x1sq", "X<sub>1</sub><sup>2</sup>", "x1 * x1", (x1, _) => x1 * x1, E * E),
        new("x2sq", "X<sub>2</sub><sup>2</sup>", "x2 * x2", (_, x2) => x2 * x2, E * E),
        new("x1x2", "X<sub>1</sub>X<sub>2</sub>", "x1 * x2", (x1, x2) => x1 * x2, E * E),
        new("sinx1", "sin(X<sub>1</sub>)", "MathF.Sin(x1)", (x1, _) => MathF.Sin(x1), 1),
        new("sinx2", "sin(X<sub>2</sub>)", "MathF.Sin(x2)", (_, x2) => MathF.Sin(x2), 1),
    ];

    /// <summary>The features' ids, in order.</summary>
    public static IReadOnlyList<string> Ids { get; } = [.. All.Select(f => f.Id)];

    private static readonly Dictionary<string, Feature> ById = All.ToDictionary(f => f.Id);

    /// <summary>The feature called <paramref name="id"/>.</summary>
    /// <exception cref="ArgumentException">There is none.</exception>
    public static Feature Get(string id) =>
        ById.TryGetValue(id, out var f) ? f : throw new ArgumentException($"Unknown feature '{id}'. Expected one of: {string.Join(", ", Ids)}.");

    /// <summary>
    /// What <c>GET /api/features</c> sends the page: each feature's id, label and picture — its value divided by its
    /// scale over a <paramref name="grid"/>×<paramref name="grid"/> grid of the input square, quantised and
    /// base64-encoded as the neurons' heatmaps are.
    /// </summary>
    public static object Describe(int grid)
    {
        var positions = PlaygroundData.Grid(grid);
        return new
        {
            grid,
            features = All.Select(f => new
            {
                id = f.Id,
                label = f.Label,
                image = Convert.ToBase64String([.. positions.Select(p => PlaygroundData.Quantize(f.Value(p.X1, p.X2) / f.Scale))]),
            }).ToArray(),
        };
    }
}
