"""OpenVINO back end: the fastest CPU path measured here (``benchmarks/cpu_backends.py``).

Runs the same checked ONNX graph as ONNX Runtime, compiled by OpenVINO's CPU
plugin: fp32, or bf16 where the CPU computes bf16 natively (AVX512-BF16 or
AMX; OpenVINO lists ``BF16`` in its optimization capabilities there). The
graph takes any tile size in its shape range, so one engine serves whole
frames of every size; a shape met a second time (the next frame of a video
or folder, the next tile of a photo) is compiled for that exact shape, which
OpenVINO runs faster than the dynamic graph (a 720p NAFNet-small frame in
bf16: 0.63 -> 0.44 s in one run, for a one-time compile of about 0.8 s). The
two most recent exact shapes are kept. openvino is imported here only.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from deblurcli.errors import EngineError, reraise_interrupt

from .base import EngineBase, EngineInfo
from .cache import DEFAULT_OPSET, EngineKey, ShapeRange

HINTS = {"fp32": "f32", "bf16": "bf16"}


def require_openvino() -> Any:
    try:
        import openvino
    except ImportError as e:
        reraise_interrupt(e)
        raise EngineError("the OpenVINO engine needs openvino: pip install 'deblurcli[openvino]'") from None
    return openvino


def openvino_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("openvino")
    except metadata.PackageNotFoundError:
        return None


def openvino_key(
    arch: str, variant: str, weights_digest: str, shapes: ShapeRange, precision: str, opset: int = DEFAULT_OPSET
) -> EngineKey:
    """The cache key of an OpenVINO engine (computed without torch: see :mod:`engines.cached`)."""
    version = openvino_version() or "none"
    return EngineKey("openvino", version, arch, variant, weights_digest, shapes, precision, "cpu", "", opset)


def native_bf16() -> bool:
    """Whether OpenVINO's CPU plugin computes bf16 natively on this machine."""
    ov = require_openvino()
    try:
        return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception:
        return False


class OpenVinoEngine(EngineBase):
    """An ONNX graph compiled for the CPU; batches within ``shapes`` (heights and widths may vary)."""

    KEEP_EXACT = 2  # compiled exact shapes kept (least recently used dropped)

    def __init__(self, path: Path, shapes: ShapeRange, precision: str = "fp32", threads: int | None = None) -> None:
        ov = require_openvino()
        if precision not in HINTS:
            raise EngineError(f"the OpenVINO engine runs fp32 or bf16, not {precision}")
        if precision == "bf16" and not native_bf16():
            raise EngineError("bf16 on this CPU would be emulated (no AVX512-BF16 or AMX); use --precision fp32")
        self.threads = threads or os.cpu_count() or 1
        self.core = ov.Core()
        self.config = {
            "INFERENCE_PRECISION_HINT": HINTS[precision],
            "INFERENCE_NUM_THREADS": self.threads,
            "PERFORMANCE_HINT": "LATENCY",
        }
        self.graph = self.core.read_model(str(path))
        self.compiled = self.core.compile_model(self.graph, "CPU", self.config)
        self.request = self.compiled.create_infer_request()
        self.exact: OrderedDict[tuple[int, ...], Any] = OrderedDict()  # shape -> its own infer request
        self.seen: Counter[tuple[int, ...]] = Counter()
        self.shapes = shapes
        self.info = EngineInfo(name="openvino", device="cpu", precision=precision, threads=self.threads)

    @classmethod
    def from_model(
        cls, model: Any, precision: str = "fp32", threads: int | None = None, multiple: int = 16, max_side: int = 4096
    ) -> OpenVinoEngine:
        """Export ``model`` with dynamic height and width (up to ``max_side``) to a temporary file and compile it
        (benchmarks and tests; ``build-engine --target openvino`` keeps a verified, cached one)."""
        from .onnx_export import export_onnx

        m = getattr(getattr(model, "config", None), "pad_multiple", multiple)
        shapes = ShapeRange((1, 2 * m, 2 * m), (1, 256, 256), (1, max_side, max_side))
        with tempfile.TemporaryDirectory() as tmp:
            path = export_onnx(model, Path(tmp) / "model.onnx", shapes, m)
            return cls(path, shapes, precision, threads)

    def infer(self, batch: np.ndarray) -> np.ndarray:
        self.check_batch(batch)
        (_, lo_h, lo_w), (hi_n, hi_h, hi_w) = self.shapes.min, self.shapes.max
        n, _, h, w = batch.shape
        if h > hi_h or w > hi_w:
            raise EngineError(f"tile {h}x{w} is larger than this engine takes ({hi_h}x{hi_w}); pass a smaller --tile")
        ph, pw = max(0, lo_h - h), max(0, lo_w - w)  # an image smaller than the smallest shape: edge-padded
        if ph or pw:
            batch = np.pad(batch, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="edge")
        outs = []
        for i in range(0, n, hi_n):
            part = np.ascontiguousarray(batch[i : i + hi_n])
            res = self._request_for(part.shape).infer({0: part})
            outs.append(np.array(res[0], dtype=np.float32, copy=True))
        out = outs[0] if len(outs) == 1 else np.concatenate(outs)
        return out[:, :, :h, :w]

    def _request_for(self, shape: tuple[int, ...]) -> Any:
        """The request compiled for exactly ``shape`` if it was met before, else the dynamic graph's."""
        if shape in self.exact:
            self.exact.move_to_end(shape)
            return self.exact[shape]
        self.seen[shape] += 1
        if self.seen[shape] < 2:  # one image of a size does not pay for a compile
            if self.request is None:
                self.request = self.compiled.create_infer_request()
            return self.request
        self.request = None  # its buffers, sized for the last shape it ran, are freed until it is needed again
        graph = self.graph.clone()
        graph.reshape({0: list(shape)})
        self.exact[shape] = self.core.compile_model(graph, "CPU", self.config).create_infer_request()
        while len(self.exact) > self.KEEP_EXACT:
            self.exact.popitem(last=False)
        return self.exact[shape]

    def close(self) -> None:
        self.exact.clear()
        self.request = None  # type: ignore[assignment]
        self.compiled = None  # type: ignore[assignment]
