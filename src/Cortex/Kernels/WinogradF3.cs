using System.Runtime.CompilerServices;

namespace Cortex.Kernels;

internal static unsafe partial class Winograd
{
    /// <summary>
    /// F(3×3, 3×3): 5×5 patches, 3×3 outputs, points 0, 1, −1, 2, ∞ (the most exact of the five-point sets tried in
    /// float32: 0, ±1, ±½, −2, ⅔ all rounded worse on the residual CNN's shapes).
    /// Bᵀ = [2 −1 −2 1 0; 0 −2 −1 1 0; 0 2 −3 1 0; 0 −1 0 1 0; 0 2 −1 −2 1],
    /// G = [½ 0 0; −½ −½ −½; −⅙ ⅙ −⅙; ⅙ ⅓ ⅔; 0 0 1], Aᵀ = [1 1 1 1 0; 0 1 −1 2 0; 0 1 1 4 1].
    /// The data transforms have integer constants; the fractions are all in the kernel's (done once per call).
    /// Each 2-D transform is its 1-D form applied down the columns, then along the rows.
    /// </summary>
    internal readonly struct F3 : ITiling
    {
        public static int M => 3;
        public static int N => 5;

        /// <summary>Bᵀ·d for one line of 5.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void In<L>(L d0, L d1, L d2, L d3, L d4, out L v0, out L v1, out L v2, out L v3, out L v4) where L : unmanaged, ILanes<L>
        {
            L a = d3 - d1, b = d3 - d2, e = d0 - d2, g = d1 - d2;
            v0 = (e + e) + a;
            v1 = b - (d1 + d1);
            v2 = b + (g + g);
            v3 = a;
            v4 = (d4 - d2) - (a + a);
        }

        /// <summary>B·v for one line of 5 (the adjoint of <see cref="In"/>).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void InAdjoint<L>(L v0, L v1, L v2, L v3, L v4, out L d0, out L d1, out L d2, out L d3, out L d4) where L : unmanaged, ILanes<L>
        {
            L s = v2 - v1 + v4, t = v2 + v2 + v2;
            d0 = v0 + v0;
            d1 = (s + s) - (v0 + v3);
            d2 = L.Broadcast(0f) - ((v0 + v0) + v1 + t + v4);
            d3 = (v0 + v1 + v2 + v3) - (v4 + v4);
            d4 = v4;
        }

        /// <summary>Aᵀ·m for one line of 5.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Out<L>(L m0, L m1, L m2, L m3, L m4, out L y0, out L y1, out L y2) where L : unmanaged, ILanes<L>
        {
            L p = m1 + m2, q = m1 - m2, m32 = m3 + m3;
            y0 = m0 + p + m3;
            y1 = q + m32;
            y2 = p + (m32 + m32) + m4;
        }

        /// <summary>A·y for one line of 3 (the adjoint of <see cref="Out"/>).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void OutAdjoint<L>(L y0, L y1, L y2, out L w0, out L w1, out L w2, out L w3, out L w4) where L : unmanaged, ILanes<L>
        {
            L s = y0 + y2, r = y1 + (y2 + y2);
            w0 = y0;
            w1 = s + y1;
            w2 = s - y1;
            w3 = y0 + (r + r);
            w4 = y2;
        }

        /// <summary>G·g for one line of 3.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Ker<L>(L g0, L g1, L g2, out L u0, out L u1, out L u2, out L u3, out L u4) where L : unmanaged, ILanes<L>
        {
            L h = L.Broadcast(0.5f), sixth = L.Broadcast(1f / 6f), s = g0 + g2, g22 = g2 + g2;
            u0 = g0 * h;
            u1 = L.Broadcast(0f) - (s + g1) * h;
            u2 = (g1 - s) * sixth;
            u3 = (g0 + (g1 + g1) + (g22 + g22)) * sixth;
            u4 = g2;
        }

        /// <summary>Gᵀ·u for one line of 5 (the adjoint of <see cref="Ker"/>).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void KerAdjoint<L>(L u0, L u1, L u2, L u3, L u4, out L g0, out L g1, out L g2) where L : unmanaged, ILanes<L>
        {
            L h = L.Broadcast(0.5f), sixth = L.Broadcast(1f / 6f);
            L a = u1 * h, b = u2 * sixth, c = u3 * sixth;
            g0 = (u0 * h - a) + (c - b);
            g1 = (c + c + b) - a;
            g2 = ((c + c) + (c + c) - (a + b)) + u4;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Input<L>(ref PatchPixels d, float* v, long stride, int c) where L : unmanaged, ILanes<L>
        {
            // Columns first: t[a][s] = (Bᵀ·d)[a][s]; all 25 stay in registers at 512 bits.
            InColumn<L>(ref d, 0, c, out L t00, out L t10, out L t20, out L t30, out L t40);
            InColumn<L>(ref d, 1, c, out L t01, out L t11, out L t21, out L t31, out L t41);
            InColumn<L>(ref d, 2, c, out L t02, out L t12, out L t22, out L t32, out L t42);
            InColumn<L>(ref d, 3, c, out L t03, out L t13, out L t23, out L t33, out L t43);
            InColumn<L>(ref d, 4, c, out L t04, out L t14, out L t24, out L t34, out L t44);
            v += c;
            InRow(v, stride, 0, t00, t01, t02, t03, t04);
            InRow(v, stride, 5, t10, t11, t12, t13, t14);
            InRow(v, stride, 10, t20, t21, t22, t23, t24);
            InRow(v, stride, 15, t30, t31, t32, t33, t34);
            InRow(v, stride, 20, t40, t41, t42, t43, t44);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void InColumn<L>(ref PatchPixels d, int s, int c, out L a0, out L a1, out L a2, out L a3, out L a4) where L : unmanaged, ILanes<L> =>
            In(L.Load((float*)d[s] + c), L.Load((float*)d[5 + s] + c), L.Load((float*)d[10 + s] + c), L.Load((float*)d[15 + s] + c),
                L.Load((float*)d[20 + s] + c), out a0, out a1, out a2, out a3, out a4);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void InRow<L>(float* v, long stride, int xi, L t0, L t1, L t2, L t3, L t4) where L : unmanaged, ILanes<L>
        {
            In(t0, t1, t2, t3, t4, out L v0, out L v1, out L v2, out L v3, out L v4);
            v0.Store(v + xi * stride);
            v1.Store(v + (xi + 1) * stride);
            v2.Store(v + (xi + 2) * stride);
            v3.Store(v + (xi + 3) * stride);
            v4.Store(v + (xi + 4) * stride);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Output<L>(float* m, long s, ref TilePixels y, int c) where L : unmanaged, ILanes<L>
        {
            m += c;
            // r[i][b] = (Aᵀ·M)[i][b] for each column b.
            OutColumn<L>(m, s, 0, out L r00, out L r10, out L r20);
            OutColumn<L>(m, s, 1, out L r01, out L r11, out L r21);
            OutColumn<L>(m, s, 2, out L r02, out L r12, out L r22);
            OutColumn<L>(m, s, 3, out L r03, out L r13, out L r23);
            OutColumn<L>(m, s, 4, out L r04, out L r14, out L r24);
            OutRow(ref y, 0, c, r00, r01, r02, r03, r04);
            OutRow(ref y, 3, c, r10, r11, r12, r13, r14);
            OutRow(ref y, 6, c, r20, r21, r22, r23, r24);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void OutColumn<L>(float* m, long s, int b, out L r0, out L r1, out L r2) where L : unmanaged, ILanes<L> =>
            Out(L.Load(m + b * s), L.Load(m + (5 + b) * s), L.Load(m + (10 + b) * s), L.Load(m + (15 + b) * s), L.Load(m + (20 + b) * s),
                out r0, out r1, out r2);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void OutRow<L>(ref TilePixels y, int at, int c, L r0, L r1, L r2, L r3, L r4) where L : unmanaged, ILanes<L>
        {
            Out(r0, r1, r2, r3, r4, out L y0, out L y1, out L y2);
            y0.Store((float*)y[at] + c);
            y1.Store((float*)y[at + 1] + c);
            y2.Store((float*)y[at + 2] + c);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Gradient<L>(ref TilePixels dy, float* w, long stride, float* biasSum, int c) where L : unmanaged, ILanes<L>
        {
            L y00 = L.Load((float*)dy[0] + c), y01 = L.Load((float*)dy[1] + c), y02 = L.Load((float*)dy[2] + c);
            L y10 = L.Load((float*)dy[3] + c), y11 = L.Load((float*)dy[4] + c), y12 = L.Load((float*)dy[5] + c);
            L y20 = L.Load((float*)dy[6] + c), y21 = L.Load((float*)dy[7] + c), y22 = L.Load((float*)dy[8] + c);
            (L.Load(biasSum + c) + ((y00 + y01 + y02) + (y10 + y11 + y12) + (y20 + y21 + y22))).Store(biasSum + c);
            // Rows a of A·dY, for each of the 3 columns, then A along each row.
            OutAdjoint(y00, y10, y20, out L a00, out L a10, out L a20, out L a30, out L a40);
            OutAdjoint(y01, y11, y21, out L a01, out L a11, out L a21, out L a31, out L a41);
            OutAdjoint(y02, y12, y22, out L a02, out L a12, out L a22, out L a32, out L a42);
            w += c;
            GradientRow(w, stride, 0, a00, a01, a02);
            GradientRow(w, stride, 5, a10, a11, a12);
            GradientRow(w, stride, 10, a20, a21, a22);
            GradientRow(w, stride, 15, a30, a31, a32);
            GradientRow(w, stride, 20, a40, a41, a42);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void GradientRow<L>(float* w, long stride, int xi, L a0, L a1, L a2) where L : unmanaged, ILanes<L>
        {
            OutAdjoint(a0, a1, a2, out L w0, out L w1, out L w2, out L w3, out L w4);
            w0.Store(w + xi * stride);
            w1.Store(w + (xi + 1) * stride);
            w2.Store(w + (xi + 2) * stride);
            w3.Store(w + (xi + 3) * stride);
            w4.Store(w + (xi + 4) * stride);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Scatter<L>(float* v, long s, ref PatchPixels d, int c) where L : unmanaged, ILanes<L>
        {
            // Through a scratch block rather than 25 named lanes: written out in full, its 25 read-add-writes and
            // the adjoint's sums exceeded the JIT's inlining limits, and the vector additions became calls.
            Unsafe.SkipInit(out Block<L> e);
            v += c;
            for (int b = 0; b < 5; b++)
                InAdjoint(L.Load(v + b * s), L.Load(v + (5 + b) * s), L.Load(v + (10 + b) * s), L.Load(v + (15 + b) * s), L.Load(v + (20 + b) * s),
                    out e[b], out e[5 + b], out e[10 + b], out e[15 + b], out e[20 + b]);
            for (int r = 0; r < 25; r += 5)
            {
                InAdjoint(e[r], e[r + 1], e[r + 2], e[r + 3], e[r + 4], out L d0, out L d1, out L d2, out L d3, out L d4);
                Accumulate((float*)d[r] + c, d0);
                Accumulate((float*)d[r + 1] + c, d1);
                Accumulate((float*)d[r + 2] + c, d2);
                Accumulate((float*)d[r + 3] + c, d3);
                Accumulate((float*)d[r + 4] + c, d4);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Kernel<L>(float* g, long gStride, float* u, long stride, int f) where L : unmanaged, ILanes<L>
        {
            Unsafe.SkipInit(out Block<L> t);
            g += f;
            // t[a][v] = (G·g)[a][v] down each of the kernel's 3 columns v, then G along each row a.
            for (int v = 0; v < 3; v++)
                Ker(L.Load(g + v * gStride), L.Load(g + (3 + v) * gStride), L.Load(g + (6 + v) * gStride),
                    out t[v], out t[5 + v], out t[10 + v], out t[15 + v], out t[20 + v]);
            u += f;
            for (int a = 0; a < 25; a += 5, u += 5 * stride)
            {
                Ker(t[a], t[a + 1], t[a + 2], out L u0, out L u1, out L u2, out L u3, out L u4);
                u0.Store(u);
                u1.Store(u + stride);
                u2.Store(u + 2 * stride);
                u3.Store(u + 3 * stride);
                u4.Store(u + 4 * stride);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void KernelGradient<L>(float* du, long s, float* dk, int f) where L : unmanaged, ILanes<L>
        {
            Unsafe.SkipInit(out Block<L> e);
            du += f;
            // e[u][b] = (Gᵀ·dU)[u][b] down each of the 5 columns b, then Gᵀ along each of the 3 rows u.
            for (int b = 0; b < 5; b++)
                KerAdjoint(L.Load(du + b * s), L.Load(du + (5 + b) * s), L.Load(du + (10 + b) * s), L.Load(du + (15 + b) * s), L.Load(du + (20 + b) * s),
                    out e[b], out e[5 + b], out e[10 + b]);
            dk += f;
            for (int u = 0; u < 3; u++)
            {
                KerAdjoint(e[5 * u], e[5 * u + 1], e[5 * u + 2], e[5 * u + 3], e[5 * u + 4], out L g0, out L g1, out L g2);
                g0.Store(dk + 3 * u * s);
                g1.Store(dk + (3 * u + 1) * s);
                g2.Store(dk + (3 * u + 2) * s);
            }
        }
    }

    /// <summary>A 5×5 block of lanes: a transform's intermediate between its column and row passes.</summary>
    [InlineArray(25)]
    private struct Block<L> where L : unmanaged
    {
        private L e;
    }
}
