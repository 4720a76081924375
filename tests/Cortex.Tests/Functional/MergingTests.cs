using Cortex.Layers;
using Cortex.Tests.Training;

namespace Cortex.Tests.FunctionalApi;

/// <summary>The merge layers: values against hand-computed ones, gradients against finite differences, shapes (eager and
/// symbolic) and Keras's errors.</summary>
public class MergingTests
{
    private static readonly Tensor A = Tensor.FromArray(new float[,] { { 1, -2, 3 }, { 0.5f, 4, -1 } });
    private static readonly Tensor B = Tensor.FromArray(new float[,] { { 2, 1, -3 }, { 0.5f, -4, 2 } });
    private static readonly Tensor C = Tensor.FromArray(new float[,] { { 0, 5, 1 }, { -1, 1, 1 } });

    public static TheoryData<string> Names => ["add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot", "dot-normalize", "dot-3d", "concatenate-axis1"];

    private static (Layer Layer, Tensor[] Inputs) Make(string name) => name switch
    {
        "add" => (new Add(), [A, B, C]),
        "subtract" => (new Subtract(), [A, B]),
        "multiply" => (new Multiply(), [A, B, C]),
        "average" => (new Average(), [A, B, C]),
        "maximum" => (new Maximum(), [A, B, C]),
        "minimum" => (new Minimum(), [A, B, C]),
        "concatenate" => (new Concatenate(), [A, B.Slice(0, 2, axis: 1)]),
        "concatenate-axis1" => (new Concatenate(axis: 1), [Tensor.RandomNormal([2, 2, 3], seed: 1), Tensor.RandomNormal([2, 1, 3], seed: 2)]),
        "dot" => (new Dot([1]), [A, B]),
        "dot-normalize" => (new Dot([-1], normalize: true), [A, B]),
        "dot-3d" => (new Dot([2, 1]), [Tensor.RandomNormal([2, 3, 4], seed: 3), Tensor.RandomNormal([2, 4, 5], seed: 4)]),
        _ => throw new ArgumentException(name),
    };

    [Fact]
    public void ValuesAreTheHandComputedOnes()
    {
        Assert.Equal(new float[] { 3, 4, 1, -0, 1, 2 }, new Add().Call(A, B, C).ToArray());
        Assert.Equal(new float[] { -1, -3, 6, 0, 8, -3 }, new Subtract().Call(A, B).ToArray());
        Assert.Equal(new float[] { 0, -10, -9, -0.25f, -16, -2 }, new Multiply().Call(A, B, C).ToArray());
        Assert.Equal(new float[] { 1, 4 / 3f, 1 / 3f, 0, 1 / 3f, 2 / 3f }, new Average().Call(A, B, C).ToArray());
        Assert.Equal(new float[] { 2, 5, 3, 0.5f, 4, 2 }, new Maximum().Call(A, B, C).ToArray());
        Assert.Equal(new float[] { 0, -2, -3, -1, -4, -1 }, new Minimum().Call(A, B, C).ToArray());
        Assert.Equal(new float[] { 1, -2, 3, 2, 1, 0.5f, 4, -1, 0.5f, -4 }, new Concatenate().Call(A, B.Slice(0, 2, axis: 1)).ToArray());
        var dot = new Dot([1]).Call(A, B);
        Assert.Equal([2, 1], dot.Shape);
        Assert.Equal(new float[] { 2 - 2 - 9, 0.25f - 16 - 2 }, dot.ToArray());
        // cosine similarity: row 0 of A·B is -9 over |A0|=√14, |B0|=√14
        var cos = new Dot([1], normalize: true).Call(A, B).ToArray();
        Assert.Equal(-9 / 14f, cos[0], 5);
        Assert.Equal(-17.75f / MathF.Sqrt(17.25f * 20.25f), cos[1], 5);
        var x = Tensor.RandomNormal([2, 3, 4], seed: 3);
        var y = Tensor.RandomNormal([2, 4, 5], seed: 4);
        Assert.Equal(Tensor.MatMul(x, y).ToArray(), new Dot([2, 1]).Call(x, y).ToArray());
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void GradientsMatchFiniteDifferences(string name)
    {
        var (layer, inputs) = Make(name);
        var output = layer.Call(inputs);
        var upstream = Tensor.RandomNormal(output.Shape, seed: 9);
        Tensor?[] grads;
        var watched = inputs.Select(t => Tensor.FromArray(t.ToArray(), t.Shape)).ToArray();
        using (var tape = new GradientTape())
        {
            foreach (var t in watched) tape.Watch(t);
            grads = tape.Gradient(layer.Call(watched), watched, upstream, UnconnectedGradients.None);
        }
        for (int i = 0; i < inputs.Length; i++)
        {
            int k = i;
            Tensor Loss(Tensor xi)
            {
                var args = (Tensor[])watched.Clone();
                args[k] = xi;
                return (layer.Call(args) * upstream).Sum();
            }
            var numeric = TrainingReference.NumericGradient(Loss, watched[i], 1e-2f);
            var analytic = grads[i]!.ToArray();
            for (int j = 0; j < numeric.Length; j++)
                Assert.True(MathF.Abs(numeric[j] - analytic[j]) < 2e-2f + 2e-2f * MathF.Abs(numeric[j]), $"{name} d/dx{i}[{j}]: {analytic[j]} vs {numeric[j]}");
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void SymbolicShapesAreTheEagerOnes(string name)
    {
        var (layer, inputs) = Make(name);
        var eager = layer.Call(inputs).Shape;
        var symbolic = layer.Call([.. inputs.Select(t => (SymbolicTensor)new Input(t.Shape[1..]))]);
        Assert.Equal([-1, .. eager[1..]], symbolic.Shape);
    }

    [Fact]
    public void ConcatGradientIsTheSliceOfTheUpstream()
    {
        var a = Tensor.RandomNormal([2, 3, 2], seed: 1);
        var b = Tensor.RandomNormal([2, 1, 2], seed: 2);
        var u = Tensor.RandomNormal([2, 4, 2], seed: 3);
        Tensor?[] g;
        using (var tape = new GradientTape())
        {
            tape.Watch(a);
            tape.Watch(b);
            g = tape.Gradient(Tensor.Concat([a, b], axis: 1), [a, b], u, UnconnectedGradients.None);
        }
        Assert.Equal(u.Slice(0, 3, axis: 1).ToArray(), g[0]!.ToArray());
        Assert.Equal(u.Slice(3, 1, axis: 1).ToArray(), g[1]!.ToArray());
    }

    [Fact]
    public void ShapesTheLayerDoesNotTakeAreRefusedInKerasWords()
    {
        var e = Assert.Throws<ArgumentException>(() => new Subtract(name: "s").Call(A, B, C));
        Assert.StartsWith("A `Subtract` layer ('s') should be called on exactly 2 inputs. Received: 3 inputs", e.Message);
        e = Assert.Throws<ArgumentException>(() => new Add(name: "a").Call(A, Tensor.Zeros([2, 4])));
        Assert.Equal("Add 'a': inputs have incompatible shapes. Received: [(2, 3), (2, 4)]", e.Message);
        e = Assert.Throws<ArgumentException>(() => new Concatenate(axis: 1, name: "c").Call(A, Tensor.Zeros([3, 3])));
        Assert.Contains("requires inputs with matching shapes except for the concatenation axis", e.Message);
        e = Assert.Throws<ArgumentException>(() => new Add(name: "one").Call(A));
        Assert.Contains("a merge layer should be called on a list of inputs", e.Message);
        e = Assert.Throws<ArgumentException>(() => new Dot([1], name: "d").Call(A, Tensor.Zeros([2, 4])));
        Assert.Contains("Dot 'd'", e.Message);
        e = Assert.Throws<ArgumentException>(() => new Dense(2, name: "dense_two").Call(A, B));
        Assert.Equal("Dense 'dense_two' takes one input. Received: 2 inputs", e.Message);
        Assert.Throws<ArgumentException>(() => new Add().Call(new Input([3]), new Input([4]))); // symbolic: the same checks
        Assert.Throws<ArgumentException>(() => new Dot([0, 1]).Call(A, B));   // the batch axis
        Assert.Throws<ArgumentException>(() => new Dot([1, 1, 1]));
    }
}
