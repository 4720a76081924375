using System.Globalization;
using System.Text;

namespace Cortex;

/// <summary>NumPy-style printing: <c>[[0.2 0.7 0.3]]</c>, aligned columns, long tensors elided with <c>...</c>.</summary>
internal static class TensorFormatter
{
    private const int Threshold = 1000; // NumPy's print threshold: above it, show EdgeItems at each end of each axis
    private const int EdgeItems = 3;

    public static string Format(Tensor t)
    {
        int[] shape = t.ShapeRef;
        ReadOnlySpan<float> d = t.AsSpan();
        bool elide = d.Length > Threshold;
        bool integral = true;
        foreach (float v in d) if (float.IsFinite(v) && v != MathF.Round(v)) { integral = false; break; }
        bool useExp = false;
        foreach (float v in d)
        {
            float a = MathF.Abs(v);
            if (float.IsFinite(a) && a != 0 && (a >= 1e8f || (!integral && a < 1e-4f))) { useExp = true; break; }
        }
        string Fmt(float v)
        {
            if (float.IsNaN(v)) return "nan";
            if (float.IsPositiveInfinity(v)) return "inf";
            if (float.IsNegativeInfinity(v)) return "-inf";
            if (useExp) return v.ToString("0.#######e+00", CultureInfo.InvariantCulture);
            if (integral) return v.ToString("0", CultureInfo.InvariantCulture) + ".";
            return v.ToString("0.########", CultureInfo.InvariantCulture);
        }
        int width = 0;
        foreach (float v in d) width = Math.Max(width, Fmt(v).Length);
        var sb = new StringBuilder();
        if (shape.Length == 0) sb.Append(Fmt(d[0]));
        else Append(sb, d, shape, 0, 0, width, elide, Fmt);
        sb.Append(", shape=").Append(ShapeUtil.Format(shape));
        return sb.ToString();
    }

    private static void Append(StringBuilder sb, ReadOnlySpan<float> d, int[] shape, int axis, int offset, int width, bool elide, Func<float, string> fmt)
    {
        int n = shape[axis];
        int stride = 1;
        for (int i = axis + 1; i < shape.Length; i++) stride *= shape[i];
        sb.Append('[');
        for (int i = 0; i < n; i++)
        {
            if (elide && n > 2 * EdgeItems && i == EdgeItems)
            {
                sb.Append(axis == shape.Length - 1 ? "... " : "...\n" + new string(' ', axis + 1));
                i = n - EdgeItems - 1;
                continue;
            }
            if (axis == shape.Length - 1)
            {
                sb.Append(fmt(d[offset + i]).PadLeft(width));
                if (i < n - 1) sb.Append(' ');
            }
            else
            {
                Append(sb, d, shape, axis + 1, offset + i * stride, width, elide, fmt);
                if (i < n - 1) sb.Append(new string('\n', shape.Length - axis - 1)).Append(' ', axis + 1);
            }
        }
        sb.Append(']');
    }
}
