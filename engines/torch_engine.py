"""PyTorch back end: eager inference on CPU or CUDA."""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn as nn

from deblurcli.errors import (
    EngineError,  # noqa: F401  (raised here, defined with the other user-facing errors)
    OutOfMemory,
)
from deblurcli.runtime import cpu_has_native_bf16

from .base import EngineBase, EngineInfo

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


DEFAULT_CUDA = "cuda:0"


def cuda_device(device: str) -> str:
    """``device`` when it names a CUDA GPU, else the default one (GPU-only back ends: TensorRT)."""
    return device if device.startswith("cuda") else DEFAULT_CUDA


def resolve_device(device: str) -> torch.device:
    """``auto`` picks the first CUDA GPU when present, else the CPU."""
    if device == "auto":
        return torch.device(DEFAULT_CUDA if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise EngineError(f"unknown device {device!r} (use auto, cpu, cuda or cuda:N)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise EngineError(f"device {device!r} asked for, but no CUDA GPU is available here; use --device cpu")
        index = dev.index or 0
        if index >= torch.cuda.device_count():
            raise EngineError(f"device {device!r} does not exist: {torch.cuda.device_count()} CUDA GPU(s) found")
        return torch.device("cuda", index)
    if dev.type != "cpu":
        raise EngineError(f"device type {dev.type!r} is not supported (use auto, cpu, cuda or cuda:N)")
    return dev


class TorchEngine(EngineBase):
    """Run an ``nn.Module`` under ``torch.inference_mode``.

    On the CPU: channels-last memory layout (oneDNN's fast path), fp32, or bf16 autocast on CPUs with native
    bf16 (AVX512-BF16 or AMX; refused elsewhere, where it is slow); fp16 on a CPU is refused (slow and
    lossy). On CUDA: fp32, fp16 or bf16 weights. ``threads`` sets torch's intra-op threads (default: every
    core).
    """

    def __init__(
        self,
        model: nn.Module,
        device: str = "auto",
        precision: str = "fp32",
        threads: int | None = None,
        channels_last: bool = True,
        compile: bool = False,
    ) -> None:
        if precision not in _DTYPES:
            raise EngineError(f"unknown precision {precision!r} (use {', '.join(_DTYPES)})")
        dev = resolve_device(device)
        if dev.type == "cpu" and precision == "fp16":
            raise EngineError("fp16 on the CPU is not supported by the torch engine; use --precision fp32 or bf16")
        if dev.type == "cpu" and precision == "bf16" and not cpu_has_native_bf16():
            raise EngineError("bf16 on this CPU would be emulated (no AVX512-BF16 or AMX); use --precision fp32")
        if threads is not None and threads < 1:
            raise EngineError("threads must be at least 1")
        self.threads = threads or os.cpu_count() or 1
        if dev.type == "cpu":
            torch.set_num_threads(self.threads)
        self.device = dev
        # on the CPU bf16 is autocast over fp32 weights (LayerNorm and reductions stay fp32)
        self.autocast = dev.type == "cpu" and precision == "bf16"
        self.dtype = torch.float32 if self.autocast else _DTYPES[precision]
        self.channels_last = channels_last and dev.type == "cpu"
        self.model = model.eval().to(device=dev, dtype=self.dtype)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        if compile:  # compiled on the first call of each input shape (benchmarks/torch_compile.py)
            self.model = torch.compile(self.model)  # type: ignore[assignment]
        self.info = EngineInfo(
            name="torch.compile" if compile else "torch",
            device=str(dev),
            precision=precision,
            threads=self.threads if dev.type == "cpu" else None,
        )

    def infer(self, batch: np.ndarray) -> np.ndarray:
        self.check_batch(batch)
        try:
            with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=self.autocast):
                x = torch.from_numpy(batch).to(self.device, self.dtype, non_blocking=True)
                if self.channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                y = self.model(x)
                return np.ascontiguousarray(y.float().cpu().numpy())
        except (torch.OutOfMemoryError, MemoryError) as e:
            # torch.OutOfMemoryError is a RuntimeError, not a MemoryError: type it so the pipeline can
            # retry with fewer or smaller tiles
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            raise OutOfMemory(
                f"out of memory on {self.device} for a batch of {batch.shape[0]} tile(s) of "
                f"{batch.shape[2]}x{batch.shape[3]}: {str(e).splitlines()[0][:120]}"
            ) from None

    def close(self) -> None:
        self.model = None  # type: ignore[assignment]
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
