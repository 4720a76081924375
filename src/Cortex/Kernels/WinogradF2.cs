using System.Runtime.CompilerServices;

namespace Cortex.Kernels;

internal static unsafe partial class Winograd
{
    /// <summary>
    /// F(2×2, 3×3): 4×4 patches, 2×2 outputs, points 0, 1, −1, ∞. Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],
    /// G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1], Aᵀ = [1 1 1 0; 0 1 −1 −1]: additions and halvings only.
    /// </summary>
    internal readonly struct F2 : ITiling
    {
        public static int M => 2;
        public static int N => 4;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Input<L>(ref PatchPixels d, float* v, long stride, int c) where L : unmanaged, ILanes<L>
        {
            // Columns first: t[a][s] = (Bᵀ·d)[a][s].
            InColumn<L>(ref d, 0, c, out L t00, out L t10, out L t20, out L t30);
            InColumn<L>(ref d, 1, c, out L t01, out L t11, out L t21, out L t31);
            InColumn<L>(ref d, 2, c, out L t02, out L t12, out L t22, out L t32);
            InColumn<L>(ref d, 3, c, out L t03, out L t13, out L t23, out L t33);
            v += c;
            InRow(v, stride, 0, t00, t01, t02, t03);
            InRow(v, stride, 4, t10, t11, t12, t13);
            InRow(v, stride, 8, t20, t21, t22, t23);
            InRow(v, stride, 12, t30, t31, t32, t33);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void InColumn<L>(ref PatchPixels d, int s, int c, out L a0, out L a1, out L a2, out L a3) where L : unmanaged, ILanes<L>
        {
            L d0 = L.Load((float*)d[s] + c), d1 = L.Load((float*)d[4 + s] + c), d2 = L.Load((float*)d[8 + s] + c), d3 = L.Load((float*)d[12 + s] + c);
            a0 = d0 - d2; a1 = d1 + d2; a2 = d2 - d1; a3 = d1 - d3;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void InRow<L>(float* v, long stride, int xi, L t0, L t1, L t2, L t3) where L : unmanaged, ILanes<L>
        {
            (t0 - t2).Store(v + xi * stride);
            (t1 + t2).Store(v + (xi + 1) * stride);
            (t2 - t1).Store(v + (xi + 2) * stride);
            (t1 - t3).Store(v + (xi + 3) * stride);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Output<L>(float* m, long s, ref TilePixels y, int c) where L : unmanaged, ILanes<L>
        {
            m += c;
            // r[i][b] = (Aᵀ·M)[i][b] for each column b.
            L m0 = L.Load(m), m4 = L.Load(m + 4 * s), m8 = L.Load(m + 8 * s), m12 = L.Load(m + 12 * s);
            L r00 = m0 + m4 + m8, r10 = m4 - m8 - m12;
            L m1 = L.Load(m + s), m5 = L.Load(m + 5 * s), m9 = L.Load(m + 9 * s), m13 = L.Load(m + 13 * s);
            L r01 = m1 + m5 + m9, r11 = m5 - m9 - m13;
            L m2 = L.Load(m + 2 * s), m6 = L.Load(m + 6 * s), m10 = L.Load(m + 10 * s), m14 = L.Load(m + 14 * s);
            L r02 = m2 + m6 + m10, r12 = m6 - m10 - m14;
            L m3 = L.Load(m + 3 * s), m7 = L.Load(m + 7 * s), m11 = L.Load(m + 11 * s), m15 = L.Load(m + 15 * s);
            L r03 = m3 + m7 + m11, r13 = m7 - m11 - m15;
            (r00 + r01 + r02).Store((float*)y[0] + c);
            (r01 - r02 - r03).Store((float*)y[1] + c);
            (r10 + r11 + r12).Store((float*)y[2] + c);
            (r11 - r12 - r13).Store((float*)y[3] + c);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Gradient<L>(ref TilePixels dy, float* w, long stride, float* biasSum, int c) where L : unmanaged, ILanes<L>
        {
            L y00 = L.Load((float*)dy[0] + c), y01 = L.Load((float*)dy[1] + c), y10 = L.Load((float*)dy[2] + c), y11 = L.Load((float*)dy[3] + c);
            L zero = L.Broadcast(0f);
            (L.Load(biasSum + c) + ((y00 + y01) + (y10 + y11))).Store(biasSum + c);
            // Rows a of A·dY: [y0; y0 + y1; y0 − y1; −y1] (each a pair of columns).
            w += c;
            GradientRow(w, stride, 0, y00, y01, zero);
            GradientRow(w, stride, 4, y00 + y10, y01 + y11, zero);
            GradientRow(w, stride, 8, y00 - y10, y01 - y11, zero);
            GradientRow(w, stride, 12, zero - y10, zero - y11, zero);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void GradientRow<L>(float* w, long stride, int xi, L a, L b, L zero) where L : unmanaged, ILanes<L>
        {
            a.Store(w + xi * stride);
            (a + b).Store(w + (xi + 1) * stride);
            (a - b).Store(w + (xi + 2) * stride);
            (zero - b).Store(w + (xi + 3) * stride);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Scatter<L>(float* v, long stride, ref PatchPixels d, int c) where L : unmanaged, ILanes<L>
        {
            v += c;
            // e[r][b] = (B·dV)[r][b]: rows [dV0; dV1 − dV2 + dV3; dV1 + dV2 − dV0; −dV3] of each column b.
            ScatterColumn<L>(v, stride, 0, out L e00, out L e10, out L e20, out L e30);
            ScatterColumn<L>(v, stride, 1, out L e01, out L e11, out L e21, out L e31);
            ScatterColumn<L>(v, stride, 2, out L e02, out L e12, out L e22, out L e32);
            ScatterColumn<L>(v, stride, 3, out L e03, out L e13, out L e23, out L e33);
            ScatterRow(ref d, 0, c, e00, e01, e02, e03);
            ScatterRow(ref d, 4, c, e10, e11, e12, e13);
            ScatterRow(ref d, 8, c, e20, e21, e22, e23);
            ScatterRow(ref d, 12, c, e30, e31, e32, e33);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void ScatterColumn<L>(float* v, long stride, int b, out L r0, out L r1, out L r2, out L r3) where L : unmanaged, ILanes<L>
        {
            L v0 = L.Load(v + b * stride), v1 = L.Load(v + (4 + b) * stride), v2 = L.Load(v + (8 + b) * stride), v3 = L.Load(v + (12 + b) * stride);
            r0 = v0; r1 = v1 - v2 + v3; r2 = v1 + v2 - v0; r3 = L.Broadcast(0f) - v3;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void ScatterRow<L>(ref PatchPixels d, int row, int c, L e0, L e1, L e2, L e3) where L : unmanaged, ILanes<L>
        {
            // Along the row the same adjoint: [e0; e1 − e2 + e3; e1 + e2 − e0; −e3].
            Accumulate((float*)d[row] + c, e0);
            Accumulate((float*)d[row + 1] + c, e1 - e2 + e3);
            Accumulate((float*)d[row + 2] + c, e1 + e2 - e0);
            Accumulate((float*)d[row + 3] + c, L.Broadcast(0f) - e3);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Kernel<L>(float* g, long gStride, float* u, long stride, int f) where L : unmanaged, ILanes<L>
        {
            L h = L.Broadcast(0.5f);
            // t[a][v] = (G·g)[a][v] over the kernel's rows.
            KernelColumn<L>(g, gStride, 0, f, h, out L t00, out L t10, out L t20, out L t30);
            KernelColumn<L>(g, gStride, 1, f, h, out L t01, out L t11, out L t21, out L t31);
            KernelColumn<L>(g, gStride, 2, f, h, out L t02, out L t12, out L t22, out L t32);
            u += f;
            KernelRow(u, stride, 0, h, t00, t01, t02);
            KernelRow(u, stride, 4, h, t10, t11, t12);
            KernelRow(u, stride, 8, h, t20, t21, t22);
            KernelRow(u, stride, 12, h, t30, t31, t32);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void KernelColumn<L>(float* g, long gStride, int v, int f, L h, out L a0, out L a1, out L a2, out L a3) where L : unmanaged, ILanes<L>
        {
            L g0 = L.Load(g + v * gStride + f), g1 = L.Load(g + (3 + v) * gStride + f), g2 = L.Load(g + (6 + v) * gStride + f);
            a0 = g0; a1 = (g0 + g1 + g2) * h; a2 = (g0 - g1 + g2) * h; a3 = g2;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void KernelRow<L>(float* u, long stride, int xi, L h, L t0, L t1, L t2) where L : unmanaged, ILanes<L>
        {
            t0.Store(u + xi * stride);
            ((t0 + t1 + t2) * h).Store(u + (xi + 1) * stride);
            ((t0 - t1 + t2) * h).Store(u + (xi + 2) * stride);
            t2.Store(u + (xi + 3) * stride);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void KernelGradient<L>(float* du, long stride, float* dk, int f) where L : unmanaged, ILanes<L>
        {
            L h = L.Broadcast(0.5f);
            // e[u][b] = (Gᵀ·dU)[u][b]: [dU0 + ½(dU1 + dU2); ½(dU1 − dU2); ½(dU1 + dU2) + dU3] per column b.
            KernelGradientColumn<L>(du, stride, 0, f, h, out L e00, out L e10, out L e20);
            KernelGradientColumn<L>(du, stride, 1, f, h, out L e01, out L e11, out L e21);
            KernelGradientColumn<L>(du, stride, 2, f, h, out L e02, out L e12, out L e22);
            KernelGradientColumn<L>(du, stride, 3, f, h, out L e03, out L e13, out L e23);
            dk += f;
            KernelGradientRow(dk, stride, 0, h, e00, e01, e02, e03);
            KernelGradientRow(dk, stride, 3, h, e10, e11, e12, e13);
            KernelGradientRow(dk, stride, 6, h, e20, e21, e22, e23);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void KernelGradientColumn<L>(float* du, long stride, int b, int f, L h, out L r0, out L r1, out L r2) where L : unmanaged, ILanes<L>
        {
            L d0 = L.Load(du + b * stride + f), d1 = L.Load(du + (4 + b) * stride + f), d2 = L.Load(du + (8 + b) * stride + f), d3 = L.Load(du + (12 + b) * stride + f);
            L s = (d1 + d2) * h;
            r0 = d0 + s; r1 = (d1 - d2) * h; r2 = s + d3;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void KernelGradientRow<L>(float* k, long stride, int at, L h, L e0, L e1, L e2, L e3) where L : unmanaged, ILanes<L>
        {
            L s = (e1 + e2) * h;
            (e0 + s).Store(k + at * stride);
            ((e1 - e2) * h).Store(k + (at + 1) * stride);
            (s + e3).Store(k + (at + 2) * stride);
        }
    }

    /// <summary>*p += value: a scatter's add into an input-gradient pixel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate<L>(float* p, L value) where L : unmanaged, ILanes<L> => (L.Load(p) + value).Store(p);
}
