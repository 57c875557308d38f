"""The inference pipeline shared by every command: pixels in, pixels out.

Layout and range conversion happen here, once: (H, W, C) integers become a
(3, H, W) float32 RGB array in [0, 1], the tiler runs the engine over it, and
the result goes back to the input's layout and bit depth. Alpha is passed
through untouched; grayscale is processed as RGB and written back as gray.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import OutOfMemory
from .tiling import tiled_apply

log = logging.getLogger("deblurcli")
MAX_SIDE = 4096  # longest side a whole frame may have (an OpenVINO engine's range)
MIN_TILE = 64  # smallest tile the out-of-memory fallback goes down to (or the model's pad multiple)

# ITU-R BT.601 luma, as OpenCV's RGB2GRAY
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def to_planar(pixels: np.ndarray) -> tuple[np.ndarray, float]:
    """(H, W[, C]) uint8/uint16 -> ((3, H, W) float32 RGB in [0, 1], the scale used)."""
    if pixels.dtype == np.uint8:
        scale = 255.0
    elif pixels.dtype == np.uint16:
        scale = 65535.0
    else:
        raise ValueError(f"unsupported sample type {pixels.dtype}")
    if pixels.ndim == 2:
        rgb = np.broadcast_to(pixels[None], (3, *pixels.shape))
    elif pixels.ndim == 3 and pixels.shape[2] in (3, 4):
        rgb = pixels[:, :, :3].transpose(2, 0, 1)
    else:
        raise ValueError(f"unsupported image shape {pixels.shape}")
    return np.ascontiguousarray(rgb, dtype=np.float32) / np.float32(scale), scale


@dataclass
class Deblurrer:
    engine: Callable[[np.ndarray], np.ndarray]
    tile: int
    overlap: int
    multiple: int
    batch: int = 1
    fixed_shape: bool = False
    frame_pixels: int = 0  # images of at most this many pixels (and sides up to MAX_SIDE) run whole, as one tile

    @classmethod
    def for_config(
        cls,
        engine: Callable[[np.ndarray], np.ndarray],
        config: Any,
        tile: int | None = None,
        overlap: int | None = None,
        batch: int = 1,
        fixed_shape: bool = False,
    ) -> Deblurrer:
        """The pipeline with a model config's tiling (its tile, overlap and pad multiple) unless overridden."""
        return cls(
            engine,
            tile=tile or config.tile,
            overlap=config.overlap if overlap is None else overlap,
            multiple=config.pad_multiple,
            batch=batch,
            fixed_shape=fixed_shape,
        )

    def run(self, rgb: np.ndarray, on_batch: Callable[[int, int], None] | None = None) -> np.ndarray:
        """(3, H, W) float32 in [0, 1] -> the same, deblurred and clipped.

        When the engine runs out of memory, retry as chaiNNer does: halve the batch, then the tile (down to
        the smallest tile the model takes), and keep the smaller setting for the next images; say so once.
        A static-shape engine cannot change its tile, so there only the batch shrinks.
        """
        while True:
            try:
                out = tiled_apply(
                    rgb,
                    self.engine,
                    self.tile_for(rgb.shape[1:]),
                    self.overlap,
                    self.multiple,
                    self.batch,
                    self.fixed_shape,
                    on_batch,
                )
                return np.clip(out, 0.0, 1.0, out=out)
            except OutOfMemory as e:
                if not self._shrink():
                    raise OutOfMemory(f"{e}; still out of memory at batch 1 and tile {self.tile}") from None

    def tile_for(self, size: tuple[int, ...]) -> int:
        """The whole frame when it is small enough (see ``frame_pixels``), else the tile."""
        h, w = size
        if self.frame_pixels and h * w <= self.frame_pixels and max(h, w) <= MAX_SIDE and not self.fixed_shape:
            return max(self.tile, h, w)
        return self.tile

    def _shrink(self) -> bool:
        """Give up whole frames, else halve the batch, else the tile; False when nothing can shrink."""
        before = (self.batch, self.tile)
        if self.frame_pixels:
            self.frame_pixels = 0
        elif self.batch > 1:
            self.batch //= 2
        else:
            smallest = max(MIN_TILE, self.multiple)
            tile = max(smallest, (self.tile // 2) // self.multiple * self.multiple)
            if self.fixed_shape or tile >= self.tile:
                return False
            self.tile = tile
            self.overlap = min(self.overlap, tile // 4)
        if not getattr(self, "_warned", False):
            log.warning(
                "out of memory at batch %d, tile %d: retrying smaller (now batch %d, tile %d)",
                *before,
                self.batch,
                self.tile,
            )
            self._warned = True
        return True

    def process(self, pixels: np.ndarray, on_batch: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Deblur an image as read by :func:`deblurcli.images.read_image`."""
        x, scale = to_planar(pixels)
        gray = pixels.ndim == 2
        y = self.run(x, on_batch)
        if gray:
            y = np.tensordot(_LUMA, y, axes=1)
        else:
            y = y.transpose(1, 2, 0)
        out = np.rint(y * scale).astype(pixels.dtype)
        if not gray and pixels.shape[2] == 4:
            out = np.concatenate([out, pixels[:, :, 3:]], axis=2)
        return out
