"""Feeding compiled engines the shapes they were built for.

ONNX and TensorRT engines are built for a fixed tile shape and batch (or a
range of them). The tiler already hands them full tiles (``fixed_shape``);
what is left is the batch: a short last batch is padded with zero tiles, a
long one is split, and the padding is dropped from the result. A tile shape
outside what the engine was built for is an error that says how to rebuild.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from .base import EngineBase
from .cache import ShapeRange


class ShapeCheckedEngine(EngineBase, ABC):
    shapes: ShapeRange

    @abstractmethod
    def run_exact(self, batch: np.ndarray) -> np.ndarray:
        """Run one batch of exactly a shape the engine accepts."""

    def infer(self, batch: np.ndarray) -> np.ndarray:
        from .torch_engine import EngineError

        self.check_batch(batch)
        n, _, h, w = batch.shape
        (b_lo, h_lo, w_lo), (b_hi, h_hi, w_hi) = self.shapes.min, self.shapes.max
        if not (h_lo <= h <= h_hi and w_lo <= w <= w_hi):
            built = f"{h_lo}x{w_lo}" if self.shapes.static else f"{h_lo}x{w_lo}..{h_hi}x{w_hi}"
            raise EngineError(
                f"this engine was built for {built} tiles, got {h}x{w}; "
                f"rebuild it with 'deblurcli build-engine --tile {max(h, w)}' or pass --tile {h_lo}"
            )
        outs = []
        for i in range(0, n, b_hi):
            chunk = batch[i : i + b_hi]
            k = len(chunk)
            if k < b_lo:
                chunk = np.concatenate([chunk, np.zeros((b_lo - k, *chunk.shape[1:]), np.float32)])
            outs.append(np.asarray(self.run_exact(np.ascontiguousarray(chunk)), dtype=np.float32)[:k])
        return outs[0] if len(outs) == 1 else np.concatenate(outs)
