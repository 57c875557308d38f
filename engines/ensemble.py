"""Geometric self-ensemble: the mean of a model's outputs over flips and 90-degree rotations of its input.

Each transform is undone on the output before averaging (Lim et al. 2017, EDSR's "x8"; reported to add
0.1-0.2 dB to deblurring models). ``n`` = 1 (off), 2 (identity and horizontal flip), 4 (the four
rotations) or 8 (rotations, each also flipped); it costs ``n`` forward passes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

SIZES = (1, 2, 4, 8)


def _transforms(n: int) -> list[tuple[int, bool]]:
    """(quarter turns, flip) pairs for an ensemble of ``n``."""
    if n == 1:
        return [(0, False)]
    if n == 2:
        return [(0, False), (0, True)]
    if n == 4:
        return [(k, False) for k in range(4)]
    return [(k, f) for k in range(4) for f in (False, True)]


def _apply(x: np.ndarray, k: int, flip: bool) -> np.ndarray:
    y = x[..., ::-1] if flip else x
    return np.rot90(y, k, axes=(-2, -1))


def _undo(y: np.ndarray, k: int, flip: bool) -> np.ndarray:
    x = np.rot90(y, -k, axes=(-2, -1))
    return x[..., ::-1] if flip else x


class Ensemble:
    """Wraps an engine (a callable on (N, 3, h, w) batches). Rotations swap h and w: with a static-shape
    engine use square tiles."""

    def __init__(self, engine: Callable[[np.ndarray], np.ndarray], n: int) -> None:
        if n not in SIZES:
            raise ValueError(f"ensemble size must be one of {SIZES}, got {n}")
        self.engine, self.n = engine, n
        self.info = getattr(engine, "info", None)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        acc = np.zeros(batch.shape, np.float32)
        for k, flip in _transforms(self.n):
            out = self.engine(np.ascontiguousarray(_apply(batch, k, flip)))
            acc += _undo(out, k, flip)
        return acc / self.n

    def close(self) -> None:
        close = getattr(self.engine, "close", None)
        if close:
            close()
