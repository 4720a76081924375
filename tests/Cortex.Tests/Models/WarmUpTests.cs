using Cortex.Kernels;
using Cortex.Layers;
using Cortex.Losses;
using Cortex.Models;
using Cortex.Optimizers;

namespace Cortex.Tests.Models;

/// <summary>
/// The background warm-up (<see cref="WarmUp"/>) must only ever make things faster: every phase runs on this machine's
/// kernels, it draws nothing from the caller's seeded generator, takes no default layer name, leaves the GEMM workers
/// alone, stops when told, and a seeded training run gives the same bits with or without it running beside it.
/// </summary>
public sealed class WarmUpTests
{
    [Fact]
    public void RunsEveryPhaseOnThisMachinesKernels()
    {
        var finished = WarmUp.Run(CancellationToken.None);
        Assert.True(finished.Count == WarmUp.Phases.Length, $"finished [{string.Join("; ", finished)}]; {WarmUp.LastError}");
        Assert.Equal(WarmUp.Phases.Select(p => p.Name), finished);
        Assert.False(GemmThreads.SerialOnThisThread);   // restored for the caller
    }

    [Fact]
    public void DrawsNothingFromTheCallersSeededGenerator()
    {
        // The worst case: the warm-up run on a thread that has set the global seed. The draws after it must be the
        // ones that follow the seed directly.
        CortexRandom.SetGlobalSeed(42);
        int[] expected = [CortexRandom.NextGlobalSeed(), CortexRandom.NextGlobalSeed(), CortexRandom.NextGlobalSeed()];
        CortexRandom.SetGlobalSeed(42);
        var finished = WarmUp.Run(CancellationToken.None);
        Assert.True(finished.Count > 0, $"{WarmUp.LastError}");
        int[] actual = [CortexRandom.NextGlobalSeed(), CortexRandom.NextGlobalSeed(), CortexRandom.NextGlobalSeed()];
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void NamesEveryModelAndLayerItself()
    {
        // A default name ("dense", "dense_1", …) would take a number from the process-wide counters, so a user's layers
        // would be named differently depending on the warm-up's timing.
        foreach (var phase in WarmUp.Phases)
        {
            var model = phase.Model();
            Assert.StartsWith(WarmUp.Prefix, model.Name);
            Assert.All(model.Layers, layer => Assert.StartsWith(WarmUp.Prefix, layer.Name));
        }
    }

    [Fact]
    public async Task StopsWhenCancelled()
    {
        using var stop = new CancellationTokenSource();
        stop.Cancel();
        Assert.Empty(WarmUp.Run(stop.Token));

        // Cancelled while the first phase trains: it returns at the next step without finishing that phase.
        using var soon = new CancellationTokenSource();
        var run = Task.Run(() => WarmUp.Run(soon.Token));
        soon.Cancel();
        var finished = await run.WaitAsync(TimeSpan.FromSeconds(30));   // throws TimeoutException if it does not stop
        Assert.True(finished.Count < WarmUp.Phases.Length);
    }

    [Fact]
    public async Task ASeededRunGivesTheSameBitsWithTheWarmUpBesideIt()
    {
        float[][] Train()
        {
            CortexRandom.SetGlobalSeed(7);
            var model = Zoo.Mlp(784, [32], 10);
            model.Compile(new Adam(1e-3f), new SparseCategoricalCrossentropy(fromLogits: true));
            var random = new CortexRandom(3);
            var x = Tensor.FromArray(Enumerable.Range(0, 128 * 784).Select(_ => random.NextFloat()).ToArray(), 128, 784);
            var y = Tensor.FromArray(Enumerable.Range(0, 128).Select(_ => (float)random.NextInt(10)).ToArray(), 128);
            model.Fit(x, y, epochs: 2, batchSize: 32, verbose: 0);
            return model.GetWeights().Select(w => w.ToArray()).ToArray();
        }

        var alone = Train();
        using var stop = new CancellationTokenSource();
        var beside = Task.Run(() => { while (!stop.IsCancellationRequested) WarmUp.Run(stop.Token); });
        try
        {
            var together = Train();
            Assert.Equal(alone.Length, together.Length);
            for (int i = 0; i < alone.Length; i++) Assert.Equal(alone[i], together[i]);
        }
        finally
        {
            stop.Cancel();
            await beside;
        }
    }

    [Theory]
    [InlineData(null, null, 2, true, true)]
    [InlineData(null, null, 1, true, false)]      // one core: it would take the core from the program it should overlap
    [InlineData(null, null, 8, false, false)]     // Native AOT: nothing left to compile
    [InlineData("0", null, 8, true, false)]
    [InlineData(" false ", null, 8, true, false)]
    [InlineData("FALSE", true, 8, true, false)]
    [InlineData(null, false, 8, true, false)]     // <RuntimeHostConfigurationOption Include="Cortex.WarmUp" Value="false" />
    [InlineData("1", true, 8, true, true)]
    public void IsSwitchedOffByTheVariableTheSwitchOneCoreOrNativeAot(string? variable, bool? appSwitch, int processors, bool jit, bool expected) =>
        Assert.Equal(expected, WarmUp.Enabled(variable, appSwitch, processors, jit));
}
