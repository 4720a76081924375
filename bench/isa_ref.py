#!/usr/bin/python3
"""Which kernels the reference side runs under the current environment, for bench/run.sh's per-ISA headings.

Prints one JSON line: PyTorch's ATen CPU capability (ATEN_CPU_CAPABILITY=avx512|avx2|default restricts it; unset,
PyTorch 1.13 picks AVX2 even on AVX-512 machines) and the core OpenBLAS chose (OPENBLAS_CORETYPE forces one; unset,
its DYNAMIC_ARCH build picks from CPUID), with the two settings as they were given.
"""
import ctypes
import json
import os


def openblas_info():
    """Ask OpenBLAS itself, when numpy/torch have loaded it into this process: its build, core and thread count."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0", mode=os.RTLD_NOLOAD)
    except OSError:
        return {"openblas": "not loaded"}
    lib.openblas_get_config.restype = ctypes.c_char_p
    lib.openblas_get_corename.restype = ctypes.c_char_p
    return {"openblas": lib.openblas_get_config().decode(), "openblas_core": lib.openblas_get_corename().decode(),
            "openblas_threads": lib.openblas_get_num_threads()}


def aten_capability(torch):
    """The CPU capability ATen dispatches to ("AVX512", "AVX2", "NO AVX"), from PyTorch's build report."""
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage:" in line:
            return line.split(":", 1)[1].strip()
    return "unknown"


if __name__ == "__main__":
    import warnings
    warnings.simplefilter("ignore")   # an invalid ATEN_CPU_CAPABILITY warns; the capability line says what it chose
    import numpy  # noqa: F401  (loads the system BLAS)
    import torch
    print(json.dumps({"aten_capability": aten_capability(torch), "torch": torch.__version__,
                      "ATEN_CPU_CAPABILITY": os.environ.get("ATEN_CPU_CAPABILITY"),
                      "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"), **openblas_info()}))
