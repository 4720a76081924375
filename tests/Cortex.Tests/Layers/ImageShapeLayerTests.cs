using Cortex.Layers;
using Cortex.Models;
using Cortex.Tests.Sequence;

namespace Cortex.Tests.LayerTests;

/// <summary>ZeroPadding2D, Cropping2D and UpSampling2D: Keras's argument forms and defaults, their errors, both training
/// paths, save/load and the summary (values and gradients: <see cref="LayerReferenceTests"/>).</summary>
public class ImageShapeLayerTests
{
    [Fact]
    public void MarginsTakeKerasForms()
    {
        Assert.Equal(new Margins2D(1, 1, 1, 1), new ZeroPadding2D().Padding);            // Keras's default (1, 1)
        Assert.Equal(new Margins2D(2, 2, 3, 3), new ZeroPadding2D((2, 3)).Padding);
        Assert.Equal(new Margins2D(0, 1, 2, 3), new Cropping2D(((0, 1), (2, 3))).Cropping);
        Assert.Equal(new Margins2D(0, 0, 0, 0), new Cropping2D().Cropping);                // Keras's default ((0, 0), (0, 0))
        Assert.Equal(new Size2D(2, 2), new UpSampling2D().Size);
        Assert.Equal("nearest", new UpSampling2D().Interpolation);
        Assert.Equal(new[] { new[] { 0, 1 }, new[] { 2, 3 } }, Assert.IsType<int[][]>(new Cropping2D(((0, 1), (2, 3))).GetConfig()["cropping"]));
        Assert.Matches("^zero_padding2d(_\\d+)?$", new ZeroPadding2D().Name);
        Assert.Matches("^cropping2d(_\\d+)?$", new Cropping2D().Name);
        Assert.Matches("^up_sampling2d(_\\d+)?$", new UpSampling2D().Name);
    }

    [Fact]
    public void ShapesFollowTheArguments()
    {
        Assert.Equal([-1, 9, 12, 3], new ZeroPadding2D(((1, 2), (3, 4))).ComputeOutputShape([-1, 6, 5, 3]));
        Assert.Equal([-1, 3, 2, 3], new Cropping2D(((1, 2), (2, 1))).ComputeOutputShape([-1, 6, 5, 3]));
        Assert.Equal([-1, 12, 15, 3], new UpSampling2D((2, 3)).ComputeOutputShape([-1, 6, 5, 3]));
    }

    [Fact]
    public void BadArgumentsAreRefusedByName()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ZeroPadding2D(((0, -1), (0, 0))));
        Assert.Equal("padding", e.ParamName);
        Assert.Contains("ZeroPadding2D: padding must be non-negative integers. Received: padding=((0, -1), (0, 0))", e.Message);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => new Cropping2D(-2));
        Assert.Contains("Cropping2D: cropping must be non-negative integers. Received: cropping=((-2, -2), (-2, -2))", e.Message);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => new UpSampling2D((0, 2)));
        Assert.Contains("UpSampling2D: size must be positive integers. Received: size=(0, 2)", e.Message);
        var a = Assert.Throws<ArgumentException>(() => new UpSampling2D(2, interpolation: "bicubic"));
        Assert.Equal("interpolation", a.ParamName);
        Assert.Contains("UpSampling2D: interpolation must be one of \"nearest\", \"bilinear\". Received: interpolation=\"bicubic\"", a.Message);
    }

    [Fact]
    public void WrongInputsNameTheLayerAndTheShapes()
    {
        var e = Assert.Throws<ArgumentException>(() => new ZeroPadding2D(name: "zp").Call(Tensor.Zeros(2, 3, 4)));
        Assert.Contains("ZeroPadding2D 'zp' expects input of rank 4 (batch, height, width, channels). Received: shape (None, 3, 4)", e.Message);
        e = Assert.Throws<ArgumentException>(() => new UpSampling2D(name: "up").Call(Tensor.Zeros(2, 12)));
        Assert.Contains("UpSampling2D 'up' expects input of rank 4", e.Message);
        e = Assert.Throws<ArgumentException>(() => new Cropping2D(((2, 2), (0, 0)), name: "cr").Call(Tensor.Zeros(1, 4, 4, 1)));
        Assert.Contains("Cropping2D 'cr': cropping=((2, 2), (0, 0)) must leave at least one row and one column of each image. Received: shape (None, 4, 4, 1)", e.Message);
    }

    [Fact]
    public void NearestRepeatsEachPixel()
    {
        var x = Tensor.FromArray(new float[] { 1, 2, 3, 4 }, [1, 2, 2, 1]);
        Assert.Equal([1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4], new UpSampling2D((2, 3)).Call(x).ToArray());
        Assert.Equal([0, 0, 0, 0, 1, 2, 0, 3, 4], new ZeroPadding2D(((1, 0), (1, 0))).Call(x).ToArray());
        Assert.Equal([4], new Cropping2D(((1, 0), (1, 0))).Call(x).ToArray());
    }

    private static (Tensor X, Tensor Y) Images(int seed)
    {
        var x = Tensor.RandomNormal([96, 6, 6, 2], seed: seed);
        return (x, x.Slice(0, 1, axis: 3).Sum(2).Sum(1).Reshape(-1) > 0f);
    }

    [Theory]
    [InlineData("zero_padding")]
    [InlineData("cropping")]
    [InlineData("nearest")]
    [InlineData("bilinear")]
    public void TrainsOnTheFusedPathWithTheTapesBits(string which)
    {
        var (x, y) = Images(4);
        Layer Make() => which switch
        {
            "zero_padding" => new ZeroPadding2D(((1, 0), (2, 1))),
            "cropping" => new Cropping2D(((1, 0), (2, 1))),
            "nearest" => new UpSampling2D((2, 1)),
            _ => new UpSampling2D(2, "bilinear"),
        };
        BothPaths.AssertFusedEqualsTape(() => new(new Input([6, 6, 2]), new Conv2D(3, 3), Make(), new Conv2D(2, 1), new Flatten(), new Dense(2)),
            x, y, epochs: 2, rate: 0.01f, seed: 6);
    }

    [Fact]
    public void SavesAndLoads()
    {
        var (x, y) = Images(5);
        var loaded = BothPaths.FitSaveLoad(new Sequential(new Input([6, 6, 2]), new ZeroPadding2D(((0, 1), (2, 3)), name: "zp"),
            new Cropping2D(((1, 0), (0, 2)), name: "cr"), new UpSampling2D((1, 2), "bilinear", name: "up"), new Flatten(), new Dense(2)), x, y);
        Assert.Equal(new Margins2D(0, 1, 2, 3), Assert.IsType<ZeroPadding2D>(loaded.Layers[1]).Padding);
        Assert.Equal(new Margins2D(1, 0, 0, 2), Assert.IsType<Cropping2D>(loaded.Layers[2]).Cropping);
        var up = Assert.IsType<UpSampling2D>(loaded.Layers[3]);
        Assert.Equal((new Size2D(1, 2), "bilinear"), (up.Size, up.Interpolation));
    }

    [Fact]
    public void SummaryShowsTheShapes()
    {
        var model = new Sequential(new Input([8, 8, 3]), new ZeroPadding2D(1), new Cropping2D(((1, 0), (0, 1))), new UpSampling2D(2));
        string text = model.SummaryString();
        Assert.Contains("(None, 10, 10, 3)", text);
        Assert.Contains("(None, 9, 9, 3)", text);
        Assert.Contains("(None, 18, 18, 3)", text);
        Assert.Contains("Total params: 0", text);
    }
}
