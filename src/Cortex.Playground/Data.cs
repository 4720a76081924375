namespace Cortex.Playground;

/// <summary>One sample: a position in the input square [−6, 6]² and its label (±1 for classes, [−1, 1] for regression).</summary>
public readonly record struct Point(float X1, float X2, float Label);

/// <summary>
/// The playground's datasets, as in the TensorFlow Playground: 500 points for classification, 1,200 for regression,
/// drawn from a seeded <see cref="CortexRandom"/> so that the same settings always give the same points.
/// </summary>
public static class PlaygroundData
{
    /// <summary>Half the side of the input square the points and heatmaps cover.</summary>
    public const float Extent = 6f;
    public const int ClassificationPoints = 500, RegressionPoints = 1200;

    /// <summary>The shuffled points and how many of the first ones are training points (the rest are test points).</summary>
    public static (Point[] Points, int TrainCount) Generate(Settings s)
    {
        var rng = new CortexRandom(s.Seed);
        float noise = s.Noise / 100f;
        Point[] points = s.Dataset switch
        {
            "circle" => Circle(rng, ClassificationPoints, noise),
            "xor" => Xor(rng, ClassificationPoints, noise),
            "gauss" => TwoGaussians(rng, ClassificationPoints, noise),
            "spiral" => Spiral(rng, ClassificationPoints, noise),
            "plane" => Plane(rng, RegressionPoints, noise),
            "multigauss" => MultiGaussian(rng, RegressionPoints, noise),
            _ => throw new BadSettingsException($"Unknown dataset '{s.Dataset}'."),
        };
        for (int i = points.Length - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (points[i], points[j]) = (points[j], points[i]);
        }
        return (points, points.Length * s.TrainRatio / 100);
    }

    private static float Uniform(CortexRandom rng, float lo, float hi) => lo + (hi - lo) * rng.NextFloat();

    /// <summary>Blue inside radius 2.5, orange in the ring 3.5–5; noise jitters the position the label is judged at.</summary>
    private static Point[] Circle(CortexRandom rng, int n, float noise)
    {
        const float radius = 5f;
        var pts = new Point[n];
        for (int i = 0; i < n; i++)
        {
            bool inner = i < n / 2;
            float r = inner ? Uniform(rng, 0, radius * 0.5f) : Uniform(rng, radius * 0.7f, radius);
            float angle = Uniform(rng, 0, 2 * MathF.PI);
            float x = r * MathF.Sin(angle), y = r * MathF.Cos(angle);
            float nx = Uniform(rng, -radius, radius) * noise, ny = Uniform(rng, -radius, radius) * noise;
            float d = MathF.Sqrt((x + nx) * (x + nx) + (y + ny) * (y + ny));
            pts[i] = new Point(x, y, d < radius * 0.5f ? 1 : -1);
        }
        return pts;
    }

    /// <summary>The four quadrants, kept 0.3 away from the axes; blue where x·y ≥ 0.</summary>
    private static Point[] Xor(CortexRandom rng, int n, float noise)
    {
        const float padding = 0.3f;
        var pts = new Point[n];
        for (int i = 0; i < n; i++)
        {
            float x = Uniform(rng, -5, 5), y = Uniform(rng, -5, 5);
            x += x > 0 ? padding : -padding;
            y += y > 0 ? padding : -padding;
            float nx = Uniform(rng, -5, 5) * noise, ny = Uniform(rng, -5, 5) * noise;
            pts[i] = new Point(x, y, (x + nx) * (y + ny) >= 0 ? 1 : -1);
        }
        return pts;
    }

    /// <summary>Blue around (2, 2), orange around (−2, −2); noise widens both clouds.</summary>
    private static Point[] TwoGaussians(CortexRandom rng, int n, float noise)
    {
        float std = MathF.Sqrt(0.5f + (4f - 0.5f) * noise / 0.5f);
        var pts = new Point[n];
        for (int i = 0; i < n; i++)
        {
            float c = i < n / 2 ? 2 : -2;
            pts[i] = new Point(c + std * (float)rng.NextNormal(), c + std * (float)rng.NextNormal(), c > 0 ? 1 : -1);
        }
        return pts;
    }

    /// <summary>Two interleaved arms of 1.75 turns out to radius 5.</summary>
    private static Point[] Spiral(CortexRandom rng, int n, float noise)
    {
        var pts = new Point[n];
        int half = n / 2;
        for (int arm = 0; arm < 2; arm++)
            for (int i = 0; i < half; i++)
            {
                float r = (float)i / half * 5f;
                float t = 1.75f * i / half * 2 * MathF.PI + arm * MathF.PI;
                float x = r * MathF.Sin(t) + Uniform(rng, -1, 1) * noise;
                float y = r * MathF.Cos(t) + Uniform(rng, -1, 1) * noise;
                pts[arm * half + i] = new Point(x, y, arm == 0 ? 1 : -1);
            }
        return pts;
    }

    /// <summary>A tilted plane: label (x₁ + x₂) / 12, judged at a jittered position.</summary>
    private static Point[] Plane(CortexRandom rng, int n, float noise)
    {
        var pts = new Point[n];
        for (int i = 0; i < n; i++)
        {
            float x = Uniform(rng, -Extent, Extent), y = Uniform(rng, -Extent, Extent);
            float nx = Uniform(rng, -Extent, Extent) * noise, ny = Uniform(rng, -Extent, Extent) * noise;
            pts[i] = new Point(x, y, Math.Clamp((x + nx + y + ny) / (2 * Extent), -1f, 1f));
        }
        return pts;
    }

    private static readonly (float X, float Y, float Sign)[] Bumps =
        [(-4, 2.5f, 1), (0, 2.5f, -1), (4, 2.5f, 1), (-4, -2.5f, -1), (0, -2.5f, 1), (4, -2.5f, -1)];

    /// <summary>Six Gaussian bumps of alternating sign on a 3×2 grid.</summary>
    private static Point[] MultiGaussian(CortexRandom rng, int n, float noise)
    {
        var pts = new Point[n];
        for (int i = 0; i < n; i++)
        {
            float x = Uniform(rng, -Extent, Extent), y = Uniform(rng, -Extent, Extent);
            float nx = x + Uniform(rng, -Extent, Extent) * noise, ny = y + Uniform(rng, -Extent, Extent) * noise;
            float label = 0;
            foreach (var (bx, by, sign) in Bumps)
                label += sign * MathF.Exp(-((nx - bx) * (nx - bx) + (ny - by) * (ny - by)) / (2 * 1.2f * 1.2f));
            pts[i] = new Point(x, y, Math.Clamp(label, -1f, 1f));
        }
        return pts;
    }

    /// <summary>Feature rows (n, features) for positions given as pairs.</summary>
    public static Tensor FeatureMatrix(string[] features, IReadOnlyList<(float X1, float X2)> positions)
    {
        var data = new float[positions.Count * features.Length];
        var values = features.Select(id => InputFeatures.Get(id).Value).ToArray();
        for (int i = 0; i < positions.Count; i++)
            for (int f = 0; f < values.Length; f++)
                data[i * values.Length + f] = values[f](positions[i].X1, positions[i].X2);
        return Tensor.FromArray(data, positions.Count, features.Length);
    }

    /// <summary>The centres of a size×size grid over the input square, row by row from the top (x₂ = +6) down.</summary>
    public static (float X1, float X2)[] Grid(int size)
    {
        var g = new (float, float)[size * size];
        float step = 2 * Extent / size;
        for (int r = 0; r < size; r++)
            for (int c = 0; c < size; c++)
                g[r * size + c] = (-Extent + (c + 0.5f) * step, Extent - (r + 0.5f) * step);
        return g;
    }

    /// <summary>Maps [−1, 1] onto 0–255 (NaN to the middle), the form heatmaps travel in.</summary>
    public static byte Quantize(float v) => float.IsNaN(v) ? (byte)128 : (byte)MathF.Round((Math.Clamp(v, -1f, 1f) + 1f) * 127.5f);
}
