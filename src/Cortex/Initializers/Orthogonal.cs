[assembly: Cortex.Saving.Registered(typeof(Cortex.Initializers.Orthogonal))]

namespace Cortex.Initializers;

/// <summary>
/// Keras's Orthogonal: a random matrix with orthonormal columns (or rows, when it is wider than tall), times
/// <c>gain</c>: the default of the recurrent kernels, because repeated products with an orthogonal matrix neither grow
/// nor shrink the state. A shape of rank above 2 is flattened to (prod(shape[:-1]), shape[-1]).
/// </summary>
/// <remarks>
/// As Keras: a standard normal matrix of shape (max(rows, cols), min(rows, cols)) is factored A = QR in double
/// precision, Q's columns are multiplied by the signs of R's diagonal (so the result is uniformly distributed over the
/// orthogonal matrices), and Q is transposed when rows &lt; cols. Cortex factors by Gram–Schmidt run twice, which gives
/// the Q with a positive diagonal of R directly, orthogonal to double rounding.
/// </remarks>
/// <example><code>Tensor u = new Orthogonal(seed: 7).Call([64, 256]);   // an LSTM's recurrent kernel: u·uᵀ = I</code></example>
public sealed class Orthogonal : Initializer
{
    /// <summary>Creates the initializer (Keras defaults: gain 1, no seed).</summary>
    /// <param name="gain">The factor applied to the orthogonal matrix.</param>
    /// <param name="seed">Fixes the values; null draws new ones each call.</param>
    public Orthogonal(float gain = 1f, int? seed = null)
    {
        Gain = gain;
        Seed = seed;
    }

    /// <summary>The factor applied to the orthogonal matrix.</summary>
    public float Gain { get; }

    /// <summary>The fixed seed, or null.</summary>
    public int? Seed { get; }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The shape has fewer than two dimensions.</exception>
    public override Tensor Call(int[] shape)
    {
        int count = Count(nameof(Orthogonal), shape);
        if (shape.Length < 2)
            throw new ArgumentException($"Orthogonal: the tensor to initialize must be at least two-dimensional. Received: shape {ShapeUtil.Format(shape)}", nameof(shape));
        var t = Tensor.Zeros(shape);
        if (count == 0) return t;
        int cols = shape[^1], rows = count / cols;
        int m = Math.Max(rows, cols), n = Math.Min(rows, cols);
        var rng = Generator(Seed);
        var a = new double[m * n];   // row-major (m, n), drawn in that order as Keras draws its normal matrix
        for (int i = 0; i < a.Length; i++) a[i] = rng.NextNormal();
        // Column j minus its projections on columns 0..j-1, twice ("twice is enough" for orthogonality), then normalised.
        var column = new double[m];
        for (int j = 0; j < n; j++)
        {
            for (int i = 0; i < m; i++) column[i] = a[i * n + j];
            for (int pass = 0; pass < 2; pass++)
                for (int k = 0; k < j; k++)
                {
                    double dot = 0;
                    for (int i = 0; i < m; i++) dot += a[i * n + k] * column[i];
                    for (int i = 0; i < m; i++) column[i] -= dot * a[i * n + k];
                }
            double norm = 0;
            for (int i = 0; i < m; i++) norm += column[i] * column[i];
            norm = Math.Sqrt(norm);
            for (int i = 0; i < m; i++) a[i * n + j] = norm > 0 ? column[i] / norm : 0;
        }
        Span<float> dest = t.Span;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                dest[rows >= cols ? i * n + j : j * m + i] = (float)(Gain * a[i * n + j]);
        return t;
    }
}
