using System.Xml.Linq;
using SkiaSharp;

namespace Cortex.Plots.Tests;

/// <summary>Reads back the images the plots wrote, to check what a person would see: the size, that something was
/// drawn, the text.</summary>
internal static class Images
{
    /// <summary>Decodes a PNG and checks its size and that it is a drawing: several colours and a spread of brightness.</summary>
    public static SKBitmap AssertPng(string path, int width, int height)
    {
        Assert.True(File.Exists(path), $"expected the image {path}");
        byte[] bytes = File.ReadAllBytes(path);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], bytes[..4]);
        var bitmap = SKBitmap.Decode(bytes);
        Assert.NotNull(bitmap);
        Assert.Equal((width, height), (bitmap.Width, bitmap.Height));

        var colours = new HashSet<uint>();
        double sum = 0, sumSquares = 0;
        foreach (SKColor c in bitmap.Pixels)
        {
            colours.Add((uint)c);
            double luminance = 0.299 * c.Red + 0.587 * c.Green + 0.114 * c.Blue;
            sum += luminance;
            sumSquares += luminance * luminance;
        }
        int n = bitmap.Width * bitmap.Height;
        double variance = sumSquares / n - sum / n * (sum / n);
        Assert.True(colours.Count >= 20, $"{path}: only {colours.Count} distinct colours; expected a drawing");
        Assert.True(variance > 50, $"{path}: brightness variance {variance:0.0}; expected a drawing, not a blank image");
        return bitmap;
    }

    /// <summary>Parses an SVG, checks its size, that it draws shapes, and returns its text.</summary>
    public static string AssertSvg(string path, int width, int height)
    {
        Assert.True(File.Exists(path), $"expected the image {path}");
        XDocument svg = XDocument.Load(path);
        XElement root = svg.Root!;
        Assert.Equal("svg", root.Name.LocalName);
        Assert.Equal(width.ToString(), root.Attribute("width")?.Value);
        Assert.Equal(height.ToString(), root.Attribute("height")?.Value);
        int shapes = root.Descendants().Count(e => e.Name.LocalName is "path" or "rect" or "line" or "polyline" or "image");
        Assert.True(shapes >= 10, $"{path}: {shapes} shapes; expected a drawing");
        return string.Join(' ', root.Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value));
    }

    /// <summary>Brightness of one pixel, 0 (black) to 255 (white).</summary>
    public static double Luminance(SKColor c) => 0.299 * c.Red + 0.587 * c.Green + 0.114 * c.Blue;
}

/// <summary>A temporary directory, deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("cortex-plots-").FullName;

    public string this[string name] => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
