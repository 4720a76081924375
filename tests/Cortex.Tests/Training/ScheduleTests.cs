using System.Text.Json;
using Cortex.Callbacks;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;
using Cortex.Tests.Models;
using Cortex.Tests.Reference;

namespace Cortex.Tests.Training;

/// <summary>
/// Every learning-rate schedule against Keras's closed form at steps before, at and after its breakpoints
/// (tests/reference/make_schedule_reference.py → schedules.json), built from the config Keras saves; their errors;
/// and the LearningRateScheduler callback.
/// </summary>
public class ScheduleTests
{
    private const string File = "schedules.json";

    public static TheoryData<string> Cases => ReferenceData.Names(File);

    [Theory]
    [MemberData(nameof(Cases))]
    public void RatesMatchKerasFormulaAtEveryStep(string name)
    {
        var c = ReferenceData.Cases(File)[name];
        var schedule = LearningRateSchedule.FromConfig(c.GetProperty("class_name").GetString()!, c.GetProperty("config"));
        long[] steps = [.. c.GetProperty("steps").EnumerateArray().Select(e => e.GetInt64())];
        float[] rates = [.. c.GetProperty("rates").EnumerateArray().Select(e => e.GetSingle())];
        for (int i = 0; i < steps.Length; i++)
            Assert.True(Math.Abs(schedule.GetRate(steps[i]) - rates[i]) <= 1e-5f * Math.Abs(rates[i]) + 1e-8f,
                $"{name} at step {steps[i]}: expected {rates[i]}, got {schedule.GetRate(steps[i])}");
        // And again after a round trip through the config saving writes.
        var again = LearningRateSchedule.FromConfig(schedule.GetType().Name, JsonSerializer.SerializeToElement(schedule.GetConfig()));
        Assert.Equal(steps.Select(schedule.GetRate), steps.Select(again.GetRate));
    }

    [Fact]
    public void ASchedulesRateDrivesTheOptimizer()
    {
        var sgd = new SGD { Schedule = new PiecewiseConstantDecay([1], [0.5f, 0.25f]) };
        var w = new Variable(Tensor.Ones(1), "w");
        for (int i = 0; i < 3; i++) sgd.ApplyGradients([Tensor.Ones(1)], [w]);
        Assert.Equal(1f - 0.5f - 0.5f - 0.25f, w.ToArray()[0]); // steps 0 and 1 are ≤ the boundary 1
    }

    [Fact]
    public void ArgumentsAreCheckedAsKerasDoes()
    {
        var lengths = Assert.Throws<ArgumentException>(() => new PiecewiseConstantDecay([10, 20], [0.1f, 0.01f]));
        Assert.Contains("1 less than the length of values", lengths.Message);
        Assert.Contains("[10, 20] of length 2", lengths.Message);
        Assert.Contains("boundaries", Assert.Throws<ArgumentException>(() => new PiecewiseConstantDecay([20, 10], [1f, 0.5f, 0.1f])).Message);
        Assert.Contains("decaySteps=0", Assert.Throws<ArgumentException>(() => new CosineDecay(0.1f, 0)).Message);
        Assert.Contains("firstDecaySteps=-1", Assert.Throws<ArgumentException>(() => new CosineDecayRestarts(0.1f, -1)).Message);
        Assert.Contains("decaySteps=0", Assert.Throws<ArgumentException>(() => new PolynomialDecay(0.1f, 0)).Message);
        Assert.Contains("decaySteps=0", Assert.Throws<ArgumentException>(() => new InverseTimeDecay(0.1f, 0, 0.5f)).Message);
        Assert.Contains("warmupSteps=-5", Assert.Throws<ArgumentException>(() => new CosineDecay(0.1f, 10, warmupTarget: 1f, warmupSteps: -5)).Message);
        Assert.Contains("tMul", Assert.Throws<ArgumentException>(() => new CosineDecayRestarts(0.1f, 10, tMul: 0f)).Message);
    }
}

/// <summary>The LearningRateScheduler callback; alone, as it captures the console (verbose: 1).</summary>
[Collection(RunsAlone.Name)]
public class LearningRateSchedulerCallbackTests
{
    [Fact]
    public void SetsTheRateEachEpoch()
    {
        var (x, y) = TrainingLoopTests.Data();
        var model = new Sequential(new Dense(1, "sigmoid"));
        var opt = new SGD(0.1f) { Schedule = new ExponentialDecay(0.1f, 1, 0.5f) };
        model.Compile(opt, new BinaryCrossentropy());
        var seen = new List<(int, float)>();
        var output = new StringWriter();
        var stdout = Console.Out;
        Console.SetOut(output);
        try
        {
            model.Fit(x, y, epochs: 3, verbose: 0, callbacks: [new LearningRateScheduler((epoch, lr) =>
            {
                seen.Add((epoch, lr));
                return epoch == 0 ? 0.2f : lr / 2;
            }, verbose: 1)]);
        }
        finally { Console.SetOut(stdout); }
        Assert.Equal(0, seen[0].Item1);
        Assert.Equal(0.1f, seen[0].Item2); // the schedule's rate at step 0, then the callback's own
        Assert.Equal([(1, 0.2f), (2, 0.1f)], seen.Skip(1));
        Assert.Equal(0.05f, opt.LearningRate);
        Assert.Null(opt.Schedule); // setting the rate replaces the schedule
        Assert.Contains("Epoch 3: LearningRateScheduler setting learning rate to 0.05.", output.ToString());

        var bad = new LearningRateScheduler((_, _) => float.NaN);
        var e = Assert.Throws<ArgumentException>(() => model.Fit(x, y, epochs: 1, verbose: 0, callbacks: [bad]));
        Assert.Contains("NaN", e.Message);
    }
}
