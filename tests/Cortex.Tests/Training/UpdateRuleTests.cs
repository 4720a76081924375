using Cortex.Kernels;
using Cortex.Optimizers;

namespace Cortex.Tests.Training;

/// <summary>
/// Each optimizer's update rule (the one definition both ApplyGradients and the fused step's pieces run) gives the same
/// bits at every vector width as one element at a time, over every length 0–70 as TensorPrimitives' tests do, and a
/// variable updated in pieces of any size gets the bits of ApplyGradients.
/// </summary>
public class UpdateRuleTests
{
    public static TheoryData<string> Rules =>
        ["sgd", "sgd-momentum", "nesterov", "rmsprop", "rmsprop-momentum", "rmsprop-centered", "rmsprop-centered-momentum",
         "adam", "amsgrad", "adamw", "adamw-amsgrad", "adagrad", "adadelta", "adamax", "nadam", "lion", "lion-decayed", "sgd-decayed"];

    [Theory]
    [MemberData(nameof(Rules))]
    public void EveryWidthGivesTheScalarBits(string name)
    {
        // Arbitrary constants of each rule's options; the vector widths run even where the CPU would emulate them.
        switch (name)
        {
            case "sgd": CheckWidths(new SgdRule(0.1f)); break;
            case "sgd-momentum": CheckWidths(new SgdRule(0.1f, 0.9f, usesMomentum: true)); break;
            case "nesterov": CheckWidths(new SgdRule(0.1f, 0.9f, usesMomentum: true, nesterov: true)); break;
            case "sgd-decayed": CheckWidths(new DecayedRule<SgdRule>(new SgdRule(0.1f), -0.1f * 0.3f)); break;
            case "adagrad": CheckWidths(new AdagradRule(0.1f, 1e-7f)); break;
            case "adadelta": CheckWidths(new AdadeltaRule(0.95f, 1e-3f, 1f)); break;
            case "adamax": CheckWidths(new AdamaxRule(0.9f, 0.999f, 0.01f, 0.271f, 1e-7f)); break;
            case "nadam": CheckWidths(new NadamRule(0.9f, 0.999f, 0.01f, 5.2f, 0.6f, 0.003f, 1e-7f)); break;
            case "lion": CheckWidths(new LionRule(0.9f, 0.99f, 0.01f)); break;
            case "lion-decayed": CheckWidths(new DecayedRule<LionRule>(new LionRule(0.9f, 0.99f, 0.01f), -0.01f * 0.5f)); break;
            default:
                if (name.StartsWith("rmsprop"))
                    CheckWidths(new RmspropRule(rho: 0.9f, momentum: 0.5f, epsilon: 1e-7f, learningRate: 0.01f,
                        usesMomentum: name.EndsWith("momentum"), centered: name.Contains("centered")));
                else if (name.StartsWith("adamw"))
                    CheckWidths(new DecayedRule<AdamRule>(new AdamRule(beta1: 0.9f, beta2: 0.999f, alpha: 0.003f, epsilon: 1e-7f,
                        amsgrad: name.EndsWith("amsgrad")), -0.004f * 0.01f));
                else
                    CheckWidths(new AdamRule(beta1: 0.9f, beta2: 0.999f, alpha: 0.003f, epsilon: 1e-7f, amsgrad: name.EndsWith("amsgrad")));
                break;
        }
    }

    private static void CheckWidths<R>(R rule) where R : unmanaged, IUpdateRule
    {
        for (int n = 0; n <= 70; n++)
        {
            var scalar = Run<R, ScalarLane>(rule, n);
            if (n > 0) Assert.NotEqual(Bits(State(n)[1]), scalar[..n]); // the rule changed w
            Assert.Equal(scalar, Run<R, Lanes128>(rule, n));
            Assert.Equal(scalar, Run<R, Lanes256>(rule, n));
            Assert.Equal(scalar, Run<R, Lanes512>(rule, n));
        }
    }

    /// <summary>Whole vectors of width V, then the scalar tail (as the engine does): the bits of w and the three slots.</summary>
    private static unsafe int[] Run<R, V>(R rule, int n) where R : unmanaged, IUpdateRule where V : unmanaged, ILanes<V>
    {
        float[][] a = State(n);
        fixed (float* g = a[0], w = a[1], s0 = a[2], s1 = a[3], s2 = a[4])
        {
            int i = UpdateEngine.Run<R, V>(rule, g, w, s0, s1, s2, 0, n);
            UpdateEngine.Run<R, ScalarLane>(rule, g, w, s0, s1, s2, i, n);
        }
        return [.. Bits(a[1]), .. Bits(a[2]), .. Bits(a[3]), .. Bits(a[4])];
    }

    /// <summary>g (with a NaN and a zero among normal values), w, and three slots in [0, 0.1) (v ≥ 0 as in training).</summary>
    private static float[][] State(int n)
    {
        var g = Tensor.RandomNormal([n], seed: 11).ToArray();
        if (n > 5) g[5] = float.NaN;
        if (n > 6) g[6] = 0f;
        return [g, Tensor.RandomNormal([n], seed: 12).ToArray(),
            .. Enumerable.Range(13, 3).Select(seed => (Tensor.RandomUniform([n], seed: seed) * 0.1f).ToArray())];
    }

    // Every NaN as one pattern (which NaN an operation returns is not part of the contract); −0 and +0 stay apart.
    private static int[] Bits(float[] values) => [.. values.Select(v => float.IsNaN(v) ? -1 : BitConverter.SingleToInt32Bits(v))];

    public static TheoryData<string> Optimizers => ["sgd", "sgd-momentum", "nesterov", "rmsprop", "rmsprop-centered-momentum", "adam", "amsgrad", "adamw", "adam-clipvalue",
        "adagrad", "adadelta", "adamax", "nadam", "lion", "sgd-weight-decay", "lion-weight-decay-clipvalue", "adam-ema"];

    public static Optimizer Make(string name) => name switch
    {
        "sgd" => new SGD(0.1f),
        "sgd-momentum" => new SGD(0.1f, momentum: 0.9f),
        "nesterov" => new SGD(0.1f, momentum: 0.9f, nesterov: true),
        "rmsprop" => new RMSprop(0.01f),
        "rmsprop-centered-momentum" => new RMSprop(0.01f, momentum: 0.5f, centered: true),
        "adam" => new Adam(0.01f),
        "amsgrad" => new Adam(0.01f, amsgrad: true),
        "adamw" => new AdamW(0.01f, weightDecay: 0.05f),
        "adam-clipvalue" => new Adam(0.01f, clipValue: 0.01f),
        "adagrad" => new Adagrad(0.1f),
        "adadelta" => new Adadelta(1f, epsilon: 1e-3f),
        "adamax" => new Adamax(0.01f),
        "nadam" => new Nadam(0.01f),
        "lion" => new Lion(0.01f),
        "sgd-weight-decay" => new SGD(0.1f, momentum: 0.9f, weightDecay: 0.1f),
        "lion-weight-decay-clipvalue" => new Lion(0.01f, weightDecay: 0.5f, clipValue: 0.01f),
        "adam-ema" => new Adam(0.01f, useEma: true, emaMomentum: 0.5f, emaOverwriteFrequency: 2),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public unsafe void PiecesOfAnySizeGiveTheBitsOfApplyGradients(string name)
    {
        // Three steps as the fused step takes them: the kernel updated in pieces, then ApplyGradients for the rest with
        // the kernel's gradient null; against ApplyGradients for both. Pieces of 1 to 99 elements (odd sizes, so most
        // end in a scalar tail), and a schedule, so each step has its own rate.
        Optimizer whole = Make(name), pieces = Make(name);
        whole.Schedule = pieces.Schedule = new ExponentialDecay(0.01f, decaySteps: 1, decayRate: 0.5f);
        var initial = Tensor.RandomNormal([1000], seed: 1);
        Variable a = new(initial, "a"), b = new(initial, "b"), biasA = new(Tensor.Ones(3), "bias"), biasB = new(Tensor.Ones(3), "bias");
        Assert.False(pieces.TryBeginPieces(b, out _)); // not built yet: the first step goes whole
        pieces.Build([b, biasB]);
        for (int step = 0; step < 3; step++)
        {
            var g = Tensor.RandomNormal([1000], seed: 20 + step);
            var gBias = Tensor.RandomNormal([3], seed: 30 + step);
            whole.ApplyGradients([g, gBias], [a, biasA]);
            Assert.True(pieces.TryBeginPieces(b, out var piece));
            float[] gradient = g.ToArray();
            fixed (float* gp = gradient, wp = b.Span)
            {
                piece.W = wp;
                for (int at = 0, size = 1; at < 1000; at += size, size = size % 99 + 7)
                    piece.Update(gp + at, at, Math.Min(size, 1000 - at));
            }
            pieces.ApplyGradients([null, gBias], [b, biasB]);
            Assert.Equal(Bits(a.ToArray()), Bits(b.ToArray()));
            Assert.Equal(Bits([.. whole.Variables.SelectMany(t => t.ToArray())]), Bits([.. pieces.Variables.SelectMany(t => t.ToArray())])); // and the slots
        }
        Assert.NotEqual(Bits(initial.ToArray()), Bits(a.ToArray()));
    }

    [Theory]
    [InlineData("clipNorm", false)]
    [InlineData("globalClipNorm", false)]
    [InlineData("clipValue", true)]
    public void ClippingByNormNeedsTheWholeGradientSoNoPieces(string clip, bool pieces)
    {
        // A norm is known only once every block's gradient is; clipping by value is element-wise and goes in the pieces.
        var a = new Variable(Tensor.Zeros(4), "a");
        var adam = clip switch
        {
            "clipNorm" => new Adam(clipNorm: 1f),
            "globalClipNorm" => new Adam(globalClipNorm: 1f),
            _ => new Adam(clipValue: 1f),
        };
        adam.Build([a]);
        Assert.Equal(pieces, adam.TryBeginPieces(a, out _));
    }
}
