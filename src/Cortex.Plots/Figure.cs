using ScottPlot;
using SkiaSharp;

namespace Cortex.Plots;

/// <summary>
/// One image made of panels (ScottPlot plots) laid out in a grid, saved as PNG or SVG by the file's extension. Each
/// panel is rendered into its own cell of one canvas, so the PNG and the SVG come from the same drawing code.
/// </summary>
internal sealed class Figure
{
    // SkiaSharp's self-contained Linux build (no fontconfig) falls back to the first face it finds, often a serif;
    // the plots read better in a common sans face, where one is installed.
    private static readonly Lazy<string> SansFont = new(() =>
    {
        string[] installed = [.. SKFontManager.Default.FontFamilies];
        return ((string[])["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica", "Segoe UI"]).FirstOrDefault(installed.Contains) ?? Fonts.Default;
    });

    /// <summary>The file extensions <see cref="Save"/> understands.</summary>
    public static readonly string[] Extensions = [".png", ".svg"];

    // ScottPlot's Font.Set also makes its face the process-wide default (Fonts.Default), which other plots, ours and the
    // user's, would then pick up: the first confusion matrix drawn in a process got serif counts and the later ones sans.
    // Setting it restores the default, under a lock, as Fonts.Default is shared; the lock also draws one figure at a
    // time, which costs nothing that matters for a few images per training run.
    private static readonly Lock DrawLock = new();

    public Figure(IReadOnlyList<Plot> panels, int columns)
    {
        string font = SansFont.Value;
        lock (DrawLock)
        {
            string previous = Fonts.Default;
            try
            {
                foreach (Plot panel in panels)
                {
                    // Each panel draws into its own cell of a shared canvas; by default a plot clears the whole canvas first.
                    panel.RenderManager.ClearCanvasBeforeEachRender = false;
                    panel.Font.Set(font); // the title, axes and legend
                    foreach (var text in panel.GetPlottables<ScottPlot.Plottables.Text>()) text.LabelFontName = font;
                }
            }
            finally
            {
                Fonts.Default = previous;
            }
        }
        Panels = panels;
        Columns = Math.Clamp(columns, 1, Math.Max(1, panels.Count));
    }

    /// <summary>The panels, row by row.</summary>
    public IReadOnlyList<Plot> Panels { get; }

    /// <summary>Panels per row.</summary>
    public int Columns { get; }

    /// <summary>Rows of panels.</summary>
    public int Rows => (Panels.Count + Columns - 1) / Columns;

    /// <summary>
    /// Checks <paramref name="path"/> ends in <c>.png</c> or <c>.svg</c> and returns that extension in lower case, so
    /// that a wrong name fails before any work.
    /// </summary>
    public static string FormatOf(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string extension = Path.GetExtension(path).ToLowerInvariant();
        return Extensions.Contains(extension) ? extension
            : throw new ArgumentException($"Cannot save the plot to '{path}': expected a file name ending in .png or .svg; received '{(extension.Length == 0 ? "no extension" : extension)}'.", nameof(path));
    }

    /// <summary>Checks an image size given by the caller.</summary>
    public static void CheckSize(int width, int height)
    {
        if (width is < 1 or > 10_000 || height is < 1 or > 10_000)
            throw new ArgumentOutOfRangeException(width is < 1 or > 10_000 ? nameof(width) : nameof(height),
                $"The image size must be between 1 and 10000 pixels each way; received {width}×{height}.");
    }

    /// <summary>Saves the figure, <paramref name="width"/>×<paramref name="height"/> pixels, as PNG or SVG by the extension.</summary>
    public void Save(string path, int width, int height)
    {
        string format = FormatOf(path);
        CheckSize(width, height);
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } folder) Directory.CreateDirectory(folder);
        lock (DrawLock) Write(path, format, width, height);
    }

    private void Write(string path, string format, int width, int height)
    {
        if (format == ".png")
        {
            using var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul))
                ?? throw new InvalidOperationException($"SkiaSharp could not create a {width}×{height} image.");
            Render(surface.Canvas, width, height);
            using SKImage image = surface.Snapshot();
            using SKData png = image.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(path, png.ToArray());
        }
        else
        {
            using var file = File.Create(path);
            // The SVG is written when the canvas is disposed, so it goes before the stream.
            using (SKCanvas canvas = SKSvgCanvas.Create(new SKRect(0, 0, width, height), file))
                Render(canvas, width, height);
        }
    }

    /// <summary>Draws every panel into its cell of a white <paramref name="width"/>×<paramref name="height"/> canvas.</summary>
    public void Render(SKCanvas canvas, int width, int height)
    {
        canvas.Clear(SKColors.White);
        float cellWidth = (float)width / Columns, cellHeight = (float)height / Rows;
        for (int i = 0; i < Panels.Count; i++)
        {
            float left = i % Columns * cellWidth, top = i / Columns * cellHeight;
            Panels[i].Render(canvas, new PixelRect(left, left + cellWidth, top + cellHeight, top));
        }
    }
}
