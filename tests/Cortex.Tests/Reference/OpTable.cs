using System.Text.Json;

namespace Cortex.Tests.Reference;

/// <summary>Cortex's side of each op named in ops.json: the same expression as the generator's PyTorch lambda.</summary>
public static class OpTable
{
    public static readonly HashSet<string> NonDifferentiable =
        ["greater", "greater_equal", "less", "less_equal", "equal", "not_equal", "argmax", "one_hot"];

    public static Tensor Run(string op, Tensor[] x, JsonElement a) => op switch
    {
        "add" => x[0] + x[1],
        "subtract" => x[0] - x[1],
        "multiply" => x[0] * x[1],
        "divide" => x[0] / x[1],
        "maximum" => Tensor.Maximum(x[0], x[1]),
        "minimum" => Tensor.Minimum(x[0], x[1]),
        "pow" => Tensor.Pow(x[0], x[1]),
        "pow_scalar" => x[0].Pow(F(a, "p")),
        "add_scalar" => x[0] + F(a, "s"),
        "rsub_scalar" => F(a, "s") - x[0],
        "mul_scalar" => x[0] * F(a, "s"),
        "rdiv_scalar" => F(a, "s") / x[0],
        "negate" => -x[0],
        "exp" => x[0].Exp(),
        "log" => x[0].Log(),
        "abs" => x[0].Abs(),
        "sqrt" => x[0].Sqrt(),
        "square" => x[0].Square(),
        "clip" => x[0].Clip(F(a, "min"), F(a, "max")),
        "where" => Tensor.Where(x[0], x[1], x[2]),
        "broadcast_to" => x[0].BroadcastTo(Ints(a, "shape")),
        "sum_all" => x[0].Sum(),
        "sum_axis" => x[0].Sum(I(a, "axis"), B(a, "keepdims")),
        "mean_all" => x[0].Mean(),
        "mean_axis" => x[0].Mean(I(a, "axis"), B(a, "keepdims")),
        "max_all" => x[0].Max(),
        "min_all" => x[0].Min(),
        "max_axis" => x[0].Max(I(a, "axis"), B(a, "keepdims")),
        "min_axis" => x[0].Min(I(a, "axis"), B(a, "keepdims")),
        "matmul" => Tensor.MatMul(x[0], x[1]),
        "dot" => Tensor.Dot(x[0], x[1]),
        "transpose" => x[0].Transpose(Ints(a, "perm")),
        "reshape" => x[0].Reshape(Ints(a, "shape")),
        "concat" => Tensor.Concat(x, I(a, "axis")),
        "stack" => Tensor.Stack(x, I(a, "axis")),
        "gather" => x[0].Gather(Ints(a, "indices"), I(a, "axis")),
        "slice" => x[0].Slice(I(a, "start"), I(a, "length"), I(a, "axis")),
        "sigmoid" => NN.Sigmoid(x[0]),
        "tanh" => NN.Tanh(x[0]),
        "relu" => NN.Relu(x[0]),
        "leaky_relu" => NN.LeakyRelu(x[0], F(a, "alpha")),
        "elu" => NN.Elu(x[0], F(a, "alpha")),
        "selu" => NN.Selu(x[0]),
        "softplus" => NN.Softplus(x[0]),
        "relu6" => NN.Relu6(x[0]),
        "silu" => NN.Silu(x[0]),
        "gelu" => NN.Gelu(x[0], a.TryGetProperty("approximate", out var approximate) && approximate.GetBoolean()),
        "hard_sigmoid" => NN.HardSigmoid(x[0]),
        "hard_silu" => NN.HardSilu(x[0]),
        "mish" => NN.Mish(x[0]),
        "softsign" => NN.Softsign(x[0]),
        "relu_layer" => new Layers.ReLU(a.GetProperty("max_value").ValueKind == JsonValueKind.Null ? null : F(a, "max_value"),
            F(a, "negative_slope"), F(a, "threshold")).Call(x[0]),
        "softmax" => NN.Softmax(x[0], I(a, "axis")),
        "log_softmax" => NN.LogSoftmax(x[0], I(a, "axis")),
        "greater" => x[0] > x[1],
        "greater_equal" => x[0] >= x[1],
        "less" => x[0] < x[1],
        "less_equal" => x[0] <= x[1],
        "equal" => Tensor.Equal(x[0], x[1]),
        "not_equal" => Tensor.NotEqual(x[0], x[1]),
        "argmax" => x[0].ArgMax(I(a, "axis")),
        "one_hot" => Tensor.OneHot(x[0], I(a, "depth")),
        _ => throw new NotSupportedException($"no Cortex mapping for op '{op}'"),
    };

    private static float F(JsonElement a, string k) => a.GetProperty(k).GetSingle();
    private static int I(JsonElement a, string k) => a.GetProperty(k).GetInt32();
    private static bool B(JsonElement a, string k) => a.GetProperty(k).GetBoolean();
    private static int[] Ints(JsonElement a, string k) => [.. a.GetProperty(k).EnumerateArray().Select(v => v.GetInt32())];
}
