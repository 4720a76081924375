namespace Cortex.Layers;

/// <summary>
/// Rows and columns added to or removed from each side of an image: ZeroPadding2D's <c>padding</c> and Cropping2D's
/// <c>cropping</c>. Converts from one int (every side), from (height, width) (top = bottom = height, left = right =
/// width) and from ((top, bottom), (left, right)), as Keras takes them.
/// </summary>
/// <example><code>new ZeroPadding2D(1); new ZeroPadding2D((1, 2)); new Cropping2D(((0, 1), (2, 3)));</code></example>
public readonly record struct Margins2D(int Top, int Bottom, int Left, int Right)
{
    /// <summary>The same amount on every side.</summary>
    public static implicit operator Margins2D(int size) => new(size, size, size, size);

    /// <summary>(height, width): <c>height</c> rows above and below, <c>width</c> columns left and right.</summary>
    public static implicit operator Margins2D((int Height, int Width) size) => new(size.Height, size.Height, size.Width, size.Width);

    /// <summary>((top, bottom), (left, right)).</summary>
    public static implicit operator Margins2D(((int Top, int Bottom) Rows, (int Left, int Right) Columns) m) =>
        new(m.Rows.Top, m.Rows.Bottom, m.Columns.Left, m.Columns.Right);

    /// <summary>As Keras saves it: [[top, bottom], [left, right]].</summary>
    public int[][] ToArray() => [[Top, Bottom], [Left, Right]];

    /// <inheritdoc/>
    public override string ToString() => $"(({Top}, {Bottom}), ({Left}, {Right}))";

    /// <summary>Reads a saved value: an int, [height, width] or [[top, bottom], [left, right]].</summary>
    internal static Margins2D FromJson(System.Text.Json.JsonElement v, string what)
    {
        if (v.ValueKind == System.Text.Json.JsonValueKind.Number) return Saving.ConfigJson.Int(v, what);
        var items = v.ValueKind == System.Text.Json.JsonValueKind.Array ? v.EnumerateArray().ToArray() : [];
        if (items.Length == 2 && items.All(e => e.ValueKind == System.Text.Json.JsonValueKind.Number))
            return (Saving.ConfigJson.Int(items[0], what), Saving.ConfigJson.Int(items[1], what));
        if (items.Length == 2 && items.All(e => e.ValueKind == System.Text.Json.JsonValueKind.Array))
        {
            int[] rows = Saving.ConfigJson.IntArray(items[0], what), cols = Saving.ConfigJson.IntArray(items[1], what);
            if (rows.Length == 2 && cols.Length == 2) return new(rows[0], rows[1], cols[0], cols[1]);
        }
        throw new InvalidDataException($"{what}: expected an integer, [height, width] or [[top, bottom], [left, right]]. Received: {Saving.ConfigJson.Quote(v)}");
    }

    /// <summary>Throws unless every side is zero or more, naming the layer and the argument.</summary>
    internal Margins2D NonNegative(string layer, string argument) =>
        Top >= 0 && Bottom >= 0 && Left >= 0 && Right >= 0 ? this
            : throw new ArgumentOutOfRangeException(argument, $"{layer}: {argument} must be non-negative integers. Received: {argument}={this}");
}

/// <summary>Copies rectangles between NHWC images: the forward and backward of ZeroPadding2D and Cropping2D.</summary>
internal static class ImageWindow
{
    /// <summary>
    /// For each of <paramref name="rows"/> images, copies the <paramref name="h"/> × <paramref name="w"/> pixels (of
    /// <paramref name="c"/> channels) at (<paramref name="srcTop"/>, <paramref name="srcLeft"/>) of an image of width
    /// <paramref name="srcW"/> to (<paramref name="dstTop"/>, <paramref name="dstLeft"/>) of an image of width
    /// <paramref name="dstW"/>; the rest of the destination is zeroed.
    /// </summary>
    public static void Copy(ReadOnlySpan<float> src, int srcH, int srcW, int srcTop, int srcLeft,
        Span<float> dst, int dstH, int dstW, int dstTop, int dstLeft, int h, int w, int c, int rows)
    {
        int srcImage = srcH * srcW * c, dstImage = dstH * dstW * c, run = w * c;
        dst[..(rows * dstImage)].Clear();
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < h; i++)
                src.Slice(r * srcImage + ((srcTop + i) * srcW + srcLeft) * c, run)
                    .CopyTo(dst.Slice(r * dstImage + ((dstTop + i) * dstW + dstLeft) * c, run));
    }
}
