using System.Text.Json;
using Cortex.Layers;
using Cortex.Tests.Reference;

namespace Cortex.Tests.Conv;

/// <summary>
/// Conv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D and BatchNormalization against PyTorch
/// (tests/reference/make_conv_reference.py → conv.json): forward values, gradients to every input and weight, the
/// moving statistics after a training call, and a central finite-difference check of each gradient.
/// </summary>
public class ConvReferenceTests
{
    private const string File = "conv.json";
    private const float Rtol = 1e-4f, Atol = 1e-5f;

    /// <summary>The normwise term for a convolution Winograd's F(3×3, 3×3) computes (<c>conv_winograd_*</c>): its
    /// transforms' constants (up to 4 and ⅙) round to ~1e-6 of the tensor's largest value, not of each element, so an
    /// element near zero can be off by more than <see cref="Atol"/> (measured: ≤ 1.9e-6 of the largest value on the
    /// residual CNN's shapes, against a float64 convolution, WinogradTests). 0 for every other case.</summary>
    private static float Normwise(Layer layer, Tensor x) =>
        layer is Conv2D conv && conv.Groups == 1 && conv.KernelSize == (3, 3) && conv.Strides == (1, 1) && conv.DilationRate == (1, 1)
        && Cortex.Kernels.Window2D.Create(x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3], 3, 3, 1, 1, 1, 1, conv.Padding == "same") is { } w
        && Cortex.Kernels.Winograd.Applies(w, 1, conv.Filters) && Cortex.Kernels.Winograd.UsesF3(w) ? 4e-6f : 0f;

    public static TheoryData<string> Cases => ReferenceData.Names(File);

    /// <summary>The case's layer with PyTorch's weights, its input, whether it runs in training mode, and the tensors to
    /// differentiate with respect to (the input, then the layer's trainable weights in the generator's order).</summary>
    private static (Layer Layer, Tensor X, bool Training, Tensor[] Sources, JsonElement Case) Setup(string name)
    {
        var c = ReferenceData.Cases(File)[name];
        var a = c.GetProperty("args");
        Tensor[] inputs = [.. c.GetProperty("inputs").EnumerateArray().Select(ReferenceData.ToTensor)];
        Tensor x = inputs[0];
        switch (c.GetProperty("layer").GetString())
        {
            case "conv2d":
            {
                bool bias = a.GetProperty("use_bias").GetBoolean();
                var conv = new Conv2D(a.GetProperty("filters").GetInt32(), Size(a, "kernel_size"), Size(a, "strides"),
                    a.GetProperty("padding").GetString()!, a.GetProperty("activation").GetString()!, bias, Size(a, "dilation_rate"));
                conv.EnsureBuilt(x.Shape);
                conv.SetWeights(inputs[1..]);
                return (conv, x, false, bias ? [x, conv.Kernel!, conv.Bias!] : [x, conv.Kernel!], c);
            }
            case "max_pool2d":
                return (new MaxPooling2D(Size(a, "pool_size"), Size(a, "strides"), a.GetProperty("padding").GetString()!), x, false, [x], c);
            case "avg_pool2d":
                return (new AveragePooling2D(Size(a, "pool_size"), Size(a, "strides"), a.GetProperty("padding").GetString()!), x, false, [x], c);
            case "global_avg_pool2d":
                return (new GlobalAveragePooling2D(a.GetProperty("keepdims").GetBoolean()), x, false, [x], c);
            case "batch_norm":
            {
                bool center = a.GetProperty("center").GetBoolean(), scale = a.GetProperty("scale").GetBoolean();
                var bn = new BatchNormalization(a.GetProperty("axis").GetInt32(), a.GetProperty("momentum").GetSingle(),
                    a.GetProperty("epsilon").GetSingle(), center, scale);
                bn.EnsureBuilt(x.Shape);
                bn.SetWeights([.. inputs[1..], ReferenceData.ToTensor(c.GetProperty("moving_mean")), ReferenceData.ToTensor(c.GetProperty("moving_variance"))]);
                Tensor[] sources = [x, .. scale ? [bn.Gamma!] : Array.Empty<Tensor>(), .. center ? [bn.Beta!] : Array.Empty<Tensor>()];
                return (bn, x, a.GetProperty("training").GetBoolean(), sources, c);
            }
            default: throw new InvalidDataException(name);
        }
    }

    private static Size2D Size(JsonElement a, string key)
    {
        int[] s = [.. a.GetProperty(key).EnumerateArray().Select(e => e.GetInt32())];
        return (s[0], s[1]);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardMatchesPyTorch(string name)
    {
        var (layer, x, training, _, c) = Setup(name);
        Tensor y = layer.Call(x, training);
        ReferenceData.AssertClose(ReferenceData.ToTensor(c.GetProperty("output")), y, $"{name} output", Rtol, Atol, Normwise(layer, x));
        Assert.Equal(ReferenceData.ToTensor(c.GetProperty("output")).Shape, layer.ComputeOutputShape([-1, .. x.Shape[1..]])[1..].Prepend(x.Shape[0]));
        if (layer is BatchNormalization bn)
        {
            string suffix = training ? "_after" : "";
            ReferenceData.AssertClose(ReferenceData.ToTensor(c.GetProperty("moving_mean" + suffix)), bn.MovingMean!, $"{name} moving mean", Rtol, Atol);
            ReferenceData.AssertClose(ReferenceData.ToTensor(c.GetProperty("moving_variance" + suffix)), bn.MovingVariance!, $"{name} moving variance", Rtol, Atol);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientsMatchPyTorch(string name)
    {
        var (layer, x, training, sources, c) = Setup(name);
        Tensor upstream = ReferenceData.ToTensor(c.GetProperty("upstream"));
        var expected = c.GetProperty("grads").EnumerateArray().ToArray();
        Assert.Equal(expected.Length, sources.Length);
        var grads = ReferenceData.LayerGradients(layer, x, sources, upstream, training);
        for (int i = 0; i < sources.Length; i++)
        {
            Assert.True(grads[i] != null, $"{name}: no gradient for source {i}");
            ReferenceData.AssertClose(ReferenceData.ToTensor(expected[i]), grads[i]!, $"{name} d/d{(i == 0 ? "x" : "w" + i)}", Rtol, Atol, Normwise(layer, x));
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientsMatchFiniteDifferences(string name)
    {
        var (layer, x, training, sources, c) = Setup(name);
        if (!c.GetProperty("fd").GetBoolean()) return; // ReLU's kink: checked against PyTorch only
        Tensor upstream = ReferenceData.ToTensor(c.GetProperty("upstream"));
        // Pooling's maxima are unique with random inputs, so the loss is smooth at x. Under F(3×3, 3×3) each loss
        // carries ~1e-6 of its largest output in rounding, which a ±1e-3 step would magnify past the check's 2%; the
        // convolution is linear in each source, so a ±1e-2 step costs no truncation error there.
        ReferenceData.AssertFiniteDifferences(name, layer, x, sources, ReferenceData.LayerGradients(layer, x, sources, upstream, training), upstream, training,
            step: Normwise(layer, x) > 0 ? 1e-2f : 1e-3f);
    }
}
