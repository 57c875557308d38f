"""ONNX Runtime back end: the fast path on CPUs.

Runs an exported graph with the CPU execution provider, or with the CUDA and
TensorRT providers when this onnxruntime build has them and a GPU is asked
for. onnxruntime is imported here only, never by ``import deblurcli``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from deblurcli.errors import EngineError, reraise_interrupt

from .base import EngineInfo
from .cache import ShapeRange
from .static import ShapeCheckedEngine


def require_onnxruntime():
    try:
        import onnxruntime
    except ImportError as e:
        reraise_interrupt(e)
        raise EngineError("the ONNX Runtime engine needs onnxruntime: pip install 'deblurcli[onnx]'") from None
    return onnxruntime


def providers_for(device: str) -> list[str]:
    """Execution providers, best first, that this onnxruntime has for ``device`` (cpu / cuda[:N] / auto)."""
    ort = require_onnxruntime()
    have = set(ort.get_available_providers())
    chosen = []
    if device != "cpu":
        chosen = [p for p in ("TensorrtExecutionProvider", "CUDAExecutionProvider") if p in have]
        if device.startswith("cuda") and not chosen:
            raise EngineError(
                f"this onnxruntime has no CUDA provider (it has {', '.join(sorted(have))}); "
                "use --device cpu or install onnxruntime-gpu"
            )
    return chosen + ["CPUExecutionProvider"]


class OrtEngine(ShapeCheckedEngine):
    """An ONNX graph from ``deblurcli build-engine --target onnx`` in an InferenceSession."""

    def __init__(
        self, path: Path, shapes: ShapeRange, device: str = "cpu", threads: int | None = None, precision: str = "fp32"
    ) -> None:
        ort = require_onnxruntime()
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.threads = threads or os.cpu_count() or 1
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3  # errors only
        self.session = ort.InferenceSession(str(path), sess_options=opts, providers=providers_for(device))
        used = self.session.get_providers()[0]
        self.input = self.session.get_inputs()[0].name
        self.shapes = shapes
        dev = "cpu" if used == "CPUExecutionProvider" else device.replace("auto", "cuda:0")
        self.info = EngineInfo(
            name="onnxruntime", device=dev, precision=precision, threads=self.threads if dev == "cpu" else None
        )

    def run_exact(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: batch})[0]

    def close(self) -> None:
        self.session = None  # type: ignore[assignment]
