using Cortex.Layers;
using Cortex.Models;

namespace Cortex.Tests.FunctionalApi;

/// <summary>Graph errors are caught when the graph is built, not during Fit, and their messages name the layers and
/// the shapes involved. (A disconnected output and a duplicate name: <see cref="FunctionalTests"/>.)</summary>
public class GraphErrorTests
{
    [Fact]
    public void AMergeOfIncompatibleShapesNamesItselfAndTheLayersThatMadeEachInput()
    {
        var a = new Input([4], "features");
        var left = new Dense(3, name: "left").Call(a);
        var right = new Dense(5, name: "right").Call(a);
        var sum = new Add("sum");
        var e = Assert.Throws<ArgumentException>(() => sum.Call(left, right));
        Assert.Equal("Add 'sum': inputs have incompatible shapes. Received: [(None, 3), (None, 5)]. Add 'sum' was called on: (None, 3) from Dense 'left', (None, 5) from Dense 'right'.", e.Message);
        Assert.False(sum.Built);

        var concat = Assert.Throws<ArgumentException>(() => new Concatenate(axis: 1, name: "cat").Call(left, new Reshape([1, 3]).Call(left)));
        Assert.Contains("(None, 3) from Dense 'left', (None, 1, 3) from Reshape", concat.Message);
    }

    [Fact]
    public void ALayerCalledOnAnotherLayersOutputOfTheWrongWidthNamesBoth()
    {
        var a = new Input([4]);
        var wide = new Dense(100, name: "wide").Call(a);
        var classifier = new Dense(10, name: "classifier");
        classifier.Call(new Input([784]));                       // built for 784 features
        var e = Assert.Throws<ArgumentException>(() => classifier.Call(wide));
        Assert.Equal("Dense 'classifier' expects input with 784 features. Received: shape (None, 100). Dense 'classifier' was called on: (None, 100) from Dense 'wide'.", e.Message);
    }

    [Fact]
    public void ACycleIsRefusedWhenTheModelIsMade()
    {
        // The public API cannot make a cycle (a node's inputs exist before it); rewire one to check the guard holds.
        var a = new Input([3]);
        var first = new Dense(3, name: "first").Call(a);
        var second = new Dense(3, name: "second").Call(first);
        var firstInputs = (SymbolicTensor[])first.Node.Inputs;
        firstInputs[0] = second;                                  // first ← second ← first
        var e = Assert.Throws<ArgumentException>(() => new Functional(a, second));
        Assert.Contains("the graph has a cycle", e.Message);
        Assert.Contains("depends on itself", e.Message);
    }
}
