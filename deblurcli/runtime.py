"""Process-wide settings for fast CPU inference, applied once at start-up.

The allocator: with glibc's defaults, every large tensor of an eager PyTorch
forward pass is an ``mmap``/``munmap`` pair, about a million page faults per
720p frame. Keeping freed memory in the heap (``M_MMAP_MAX = 0``, a high
``M_TRIM_THRESHOLD``, one arena for all threads) is the first advice of the PyTorch and AMD ZenDNN CPU
tuning guides; measured here it makes the same model 2-4x faster with
identical outputs (``benchmarks/cpu_backends.py``). The cost: the process
keeps its peak memory until it exits instead of returning it to the system.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
M_ARENA_MAX = -8
_TUNED = False


def tune_allocator() -> bool:
    """Keep freed memory in glibc's heap (no mmap per large buffer, no trimming); True when applied.

    Does nothing off glibc (macOS, Windows, musl) or when ``DEBLURCLI_NO_MALLOPT`` is set.
    """
    global _TUNED
    if _TUNED:
        return True
    if os.environ.get("DEBLURCLI_NO_MALLOPT") or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, 2**31 - 1) == 1
    # one arena for every thread: freed memory kept by one thread's arena (the folder job's reader and writer,
    # the engine's threads) cannot serve another's, which raised an 8K image's peak from 1.43 to 1.56 GB
    ok = ok and mallopt(M_ARENA_MAX, 1) == 1
    _TUNED = ok
    return ok


def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX tiles, as PyTorch's CPU capability checks report them."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, c, lambda: False)()) for c in checks)
