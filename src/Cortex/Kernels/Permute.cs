namespace Cortex.Kernels;

/// <summary>Axis permutation (transpose) of a row-major block into a fresh row-major block.</summary>
internal static class Permute
{
    private const int Tile = 32; // 32×32 floats = 4 KiB per tile: both source rows and destination rows stay in L1

    public static void Run(ReadOnlySpan<float> src, int[] shape, int[] perm, Span<float> dst)
    {
        int rank = shape.Length;
        if (src.Length == 0) return;
        bool identity = true;
        for (int i = 0; i < rank; i++) identity &= perm[i] == i;
        if (identity) { src.CopyTo(dst); return; }
        if (rank == 2) { Transpose2D(src, shape[0], shape[1], dst); return; }

        // A permutation that only swaps the last two axes is a batch of matrix transposes.
        bool lastTwo = rank >= 2 && perm[rank - 1] == rank - 2 && perm[rank - 2] == rank - 1;
        for (int i = 0; lastTwo && i < rank - 2; i++) lastTwo = perm[i] == i;
        if (lastTwo)
        {
            int rows = shape[rank - 2], cols = shape[rank - 1], mat = rows * cols;
            for (int b = 0; b < src.Length / mat; b++)
                Transpose2D(src.Slice(b * mat, mat), rows, cols, dst.Slice(b * mat, mat));
            return;
        }

        // General case: walk the destination in order, the source with permuted strides.
        // Strides on the stack: the Permute layer's stage calls this every training step and allocates nothing.
        Span<int> srcStrides = stackalloc int[rank], stride = stackalloc int[rank], dims = stackalloc int[rank], idx = stackalloc int[rank];
        for (int i = rank - 1, step = 1; i >= 0; step *= shape[i], i--) srcStrides[i] = step;
        for (int i = 0; i < rank; i++) { stride[i] = srcStrides[perm[i]]; dims[i] = shape[perm[i]]; }
        idx.Clear();
        int s = 0;
        int innerDim = dims[rank - 1], innerStride = stride[rank - 1];
        for (int d = 0; d < dst.Length; d += innerDim)
        {
            for (int i = 0; i < innerDim; i++) dst[d + i] = src[s + i * innerStride];
            for (int ax = rank - 2; ax >= 0; ax--)
            {
                idx[ax]++;
                s += stride[ax];
                if (idx[ax] < dims[ax]) break;
                s -= stride[ax] * dims[ax];
                idx[ax] = 0;
            }
        }
    }

    /// <summary>Cache-tiled matrix transpose of a rows×cols block.</summary>
    private static void Transpose2D(ReadOnlySpan<float> src, int rows, int cols, Span<float> dst)
    {
        for (int i0 = 0; i0 < rows; i0 += Tile)
        {
            int i1 = Math.Min(rows, i0 + Tile);
            for (int j0 = 0; j0 < cols; j0 += Tile)
            {
                int j1 = Math.Min(cols, j0 + Tile);
                for (int i = i0; i < i1; i++)
                    for (int j = j0; j < j1; j++)
                        dst[j * rows + i] = src[i * cols + j];
            }
        }
    }
}
