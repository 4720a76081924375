namespace Cortex.Autodiff;

/// <summary>
/// Carries an op's output gradient back to its inputs. Returns one entry per input, null where an input takes no
/// gradient (masks, indices). Written as static lambdas that read what they need from the node, so recording an op
/// allocates the node and nothing else.
/// </summary>
internal delegate Tensor?[] BackwardFunction(Tensor outputGradient, TapeNode node);

/// <summary>One recorded op: its output, its inputs, the rule that carries the output's gradient back, and the op's
/// scalar arguments (an axis, a slope) that the rule needs.</summary>
internal sealed class TapeNode(string op, Tensor output, Tensor[] inputs, BackwardFunction backward)
{
    public readonly string Op = op;
    public readonly Tensor Output = output;
    public readonly Tensor[] Inputs = inputs;
    public readonly BackwardFunction Backward = backward;
    public float Alpha;
    public int Axis;
    public bool KeepDims;
    public object? State;

    public Tensor X => Inputs[0];
    public Tensor Y => Inputs[1];
}
