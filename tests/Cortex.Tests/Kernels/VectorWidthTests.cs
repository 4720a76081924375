using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Cortex.Kernels;

namespace Cortex.Tests.Kernels;

/// <summary>
/// Which vector width this process runs, given the JIT's ISA setting. tests/Cortex.Isa.Tests runs the kernel and model
/// tests again under <c>DOTNET_EnableAVX512=0</c>, <c>DOTNET_EnableAVX2=0</c> and <c>DOTNET_PreferredVectorBitWidth=128</c>,
/// this class among them, so a setting that did not take effect (<c>DOTNET_EnableAVX512F=0</c>, for one, does nothing on
/// .NET 10) fails there instead of silently testing the native path twice.
/// </summary>
public class VectorWidthTests
{
    [Fact]
    public void GemmRunsTheWidestKernelTheIsaSettingAllows()
    {
        bool no512 = Disabled("DOTNET_EnableAVX512"), no256 = Disabled("DOTNET_EnableAVX2");
        bool prefer128 = Environment.GetEnvironmentVariable("DOTNET_PreferredVectorBitWidth")?.Trim() == "128";
        GemmKernel kernel = Gemm.ActiveKernel;
        if (!X86Base.IsSupported)
        {
            // ARM64: 128-bit AdvSimd whatever the x64 settings say.
            Assert.Equal(AdvSimd.IsSupported ? GemmKernel.Vector128 : GemmKernel.Scalar, kernel);
            return;
        }
        (bool avx2Fma, bool avx512) = HostIsa();
        if (no256)
        {
            Assert.False(Vector256.IsHardwareAccelerated, "DOTNET_EnableAVX2=0 is set, yet Vector256 is accelerated");
            Assert.False(Vector512.IsHardwareAccelerated, "DOTNET_EnableAVX2=0 is set, yet Vector512 is accelerated");
            Assert.Equal(GemmKernel.Vector128, kernel);
        }
        else if (prefer128)
        {
            // 128-bit vectors with FMA still on: the 128-bit path as ARM64 runs it, fused multiply-adds and all.
            Assert.False(Vector256.IsHardwareAccelerated, "DOTNET_PreferredVectorBitWidth=128 is set, yet Vector256 is accelerated");
            Assert.Equal(GemmKernel.Vector128, kernel);
            Assert.Equal(avx2Fma, Vector128Kernel.Fuses);
        }
        else if (no512)
        {
            Assert.False(Vector512.IsHardwareAccelerated, "DOTNET_EnableAVX512=0 is set, yet Vector512 is accelerated");
            Assert.Equal(avx2Fma ? GemmKernel.Vector256 : GemmKernel.Vector128, kernel);
        }
        else
        {
            // Natively the widest the CPU has. .NET leaves Vector512 unaccelerated on CPUs whose clocks drop under
            // 512-bit work (Skylake-X, Cascade Lake) even though they report AVX-512; those run the 256-bit kernel.
            GemmKernel expected = avx512 && Vector512.IsHardwareAccelerated ? GemmKernel.Vector512
                : avx2Fma ? GemmKernel.Vector256 : GemmKernel.Vector128;
            Assert.Equal(expected, kernel);
        }
    }

    /// <summary>Whether the runtime setting <paramref name="name"/> is 0 in this process's environment (the JIT reads
    /// it once, at start-up).</summary>
    private static bool Disabled(string name) => Environment.GetEnvironmentVariable(name)?.Trim() == "0";

    /// <summary>What the CPU itself reports (CPUID leaves 1 and 7), whatever the JIT was told to use.</summary>
    private static (bool Avx2Fma, bool Avx512) HostIsa()
    {
        (_, _, int ecx1, _) = X86Base.CpuId(1, 0);
        (_, int ebx7, _, _) = X86Base.CpuId(7, 0);
        bool fma = (ecx1 & (1 << 12)) != 0, avx2 = (ebx7 & (1 << 5)) != 0, avx512f = (ebx7 & (1 << 16)) != 0;
        return (avx2 && fma, avx512f);
    }
}
