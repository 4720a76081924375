using Cortex.Autodiff;
using Cortex.Kernels;

namespace Cortex;

// Matrix products on the engine's GEMM. Transposed operands in the backward pass are passed as flags, never
// materialised.
public partial class Tensor
{
    /// <summary>
    /// Matrix product with NumPy <c>matmul</c> semantics: 2-D × 2-D; a 1-D operand is treated as a row (left) or
    /// column (right) vector and its axis removed from the result; higher ranks are batches of matrices whose batch
    /// axes broadcast. Example: <c>[1 2] · [[3 5] [4 6]] = [11 17]</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The inner dimensions differ or an operand is a scalar.</exception>
    public static Tensor MatMul(Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Rank == 0 || b.Rank == 0)
            throw new ArgumentException($"MatMul: operands must have at least one dimension. Received: {ShapeUtil.Format(a.shape)} @ {ShapeUtil.Format(b.shape)}");
        int ka = a.shape[^1], kb = b.Rank == 1 ? b.shape[0] : b.shape[^2];
        if (ka != kb)
            throw new ArgumentException($"MatMul: {ShapeUtil.Format(a.shape)} @ {ShapeUtil.Format(b.shape)}: inner dimensions {ka} and {kb} differ");
        if (a.Rank == 1 && b.Rank == 1) return (a * b).Sum();
        if (a.Rank == 1) return MatMul(a.Reshape(1, ka), b).Squeeze(-2);
        if (b.Rank == 1) return MatMul(a, b.Reshape(kb, 1)).Squeeze(-1);
        // A batch of matrices times one matrix is one tall GEMM: (B·m, k) × (k, n).
        if (b.Rank == 2 && a.Rank > 2)
            return MatMul(a.Reshape(ShapeUtil.Count(a.shape[..^1]), ka), b).Reshape([.. a.shape[..^1], b.shape[1]]); // not -1: k may be 0
        return MatMulCore(a, false, b, false, record: true);
    }

    /// <summary>This matrix times <paramref name="other"/>; see <see cref="MatMul(Tensor, Tensor)"/>.</summary>
    public Tensor MatMul(Tensor other) => MatMul(this, other);

    /// <summary>
    /// NumPy <c>dot</c> for vectors and matrices: the inner product of two vectors (a scalar), otherwise the matrix
    /// product.
    /// </summary>
    /// <exception cref="ArgumentException">An operand has rank above 2, or the inner dimensions differ.</exception>
    public static Tensor Dot(Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Rank == 0 || b.Rank == 0) return a * b;
        if (a.Rank > 2 || b.Rank > 2)
            throw new ArgumentException($"Dot: supports vectors and matrices; use MatMul for batches. Received: {ShapeUtil.Format(a.shape)} · {ShapeUtil.Format(b.shape)}");
        return MatMul(a, b);
    }

    /// <summary>This tensor dotted with <paramref name="other"/>; see <see cref="Dot(Tensor, Tensor)"/>.</summary>
    public Tensor Dot(Tensor other) => Dot(this, other);

    /// <summary>
    /// Batched op(a)·op(b) for rank ≥ 2 operands, where op transposes the last two axes when its flag is set. Batch
    /// axes broadcast; each batch pair is one GEMM call.
    /// </summary>
    internal static Tensor MatMulCore(Tensor a, bool transA, Tensor b, bool transB, bool record)
    {
        int m = transA ? a.shape[^1] : a.shape[^2], k = transA ? a.shape[^2] : a.shape[^1];
        int kb = transB ? b.shape[^1] : b.shape[^2], n = transB ? b.shape[^2] : b.shape[^1];
        if (k != kb)
            throw new ArgumentException($"MatMul: {ShapeUtil.Format(a.shape)} @ {ShapeUtil.Format(b.shape)}: inner dimensions {k} and {kb} differ");
        int[] batch = ShapeUtil.Broadcast("MatMul (batch axes)", a.shape[..^2], b.shape[..^2]);
        var r = Uninitialized([.. batch, m, n]);
        int lda = a.shape[^1], ldb = b.shape[^1];
        if (batch.Length == 0)
            Gemm.Sgemm(transA, transB, m, n, k, a.data, lda, b.data, ldb, r.data, n);
        else
        {
            int count = ShapeUtil.Count(batch);
            Span<int> sa = stackalloc int[batch.Length], sb = stackalloc int[batch.Length];
            Broadcast.BroadcastStrides(a.shape[..^2], batch, sa);
            Broadcast.BroadcastStrides(b.shape[..^2], batch, sb);
            int[] bstr = ShapeUtil.Strides(batch);
            int matA = a.shape[^1] * a.shape[^2], matB = b.shape[^1] * b.shape[^2], matC = m * n;
            for (int i = 0; i < count; i++)
            {
                int ia = 0, ib = 0, rem = i;
                for (int ax = 0; ax < batch.Length; ax++)
                {
                    int q = rem / bstr[ax];
                    rem -= q * bstr[ax];
                    ia += q * sa[ax];
                    ib += q * sb[ax];
                }
                Gemm.Sgemm(transA, transB, m, n, k, a.data.AsSpan(ia * matA, matA), lda, b.data.AsSpan(ib * matB, matB), ldb,
                    r.data.AsSpan(i * matC, matC), n);
            }
        }
        if (record && GradientTape.IsRecording)
            GradientTape.Record("MatMul", r, static (g, node) =>
            {
                // C = A·B  ⇒  dA = dC·Bᵀ, dB = Aᵀ·dC; summed over broadcast batch axes.
                Tensor a = node.X, b = node.Y;
                Tensor ga = MatMulCore(g, false, b, true, record: false).SumTo(a.shape);
                Tensor gb = MatMulCore(a, true, g, false, record: false).SumTo(b.shape);
                return [ga, gb];
            }, a, b);
        return r;
    }
}
