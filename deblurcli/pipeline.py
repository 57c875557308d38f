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
    fit_tiles: bool = False  # tiles shortened to the least overlap (deblurcli.tiling.plan_axis)
    strength: float = 1.0  # how much of the model's change is kept: input + strength x (output - input)

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
        """(3, H, W) float32 in [0, 1] -> the same, deblurred and clipped."""
        out = self._tiled(rgb, None, None, on_batch)
        assert out is not None
        if self.strength != 1.0:
            out -= rgb
            out *= self.strength
            out += rgb
        return np.clip(out, 0.0, 1.0, out=out)

    def _tiled(
        self, image: np.ndarray, scale: float | None, emit: Any, on_batch: Callable[[int, int], None] | None
    ) -> np.ndarray | None:
        """The tiler with the out-of-memory fallback.

        When the engine runs out of memory, retry as chaiNNer does: give up whole frames, halve the batch, then
        the tile (down to the smallest tile the model takes), and keep the smaller setting for the next images;
        say so once. A static-shape engine cannot change its tile, so there only the batch shrinks.
        """
        size = image.shape[1:] if scale is None else image.shape[:2]
        while True:
            try:
                return tiled_apply(
                    image,
                    self.engine,
                    self.tile_for(size),
                    self.overlap,
                    self.multiple,
                    self.batch,
                    self.fixed_shape,
                    on_batch,
                    scale=scale,
                    emit=emit,
                    fit=self.fit_tiles,
                )
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
        """Deblur an image as read by :func:`deblurcli.images.read_image`: the same shape and dtype out.

        Tiles are cut from the integer image and finished rows written straight into the integer output, so
        the only full-size buffers are the input and the output (see :func:`deblurcli.tiling.tiled_apply`).
        """
        if pixels.dtype not in (np.uint8, np.uint16):
            raise ValueError(f"unsupported sample type {pixels.dtype}")
        if not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] in (3, 4))):
            raise ValueError(f"unsupported image shape {pixels.shape}")
        scale = 255.0 if pixels.dtype == np.uint8 else 65535.0
        gray = pixels.ndim == 2
        src = pixels[:, :, None] if gray else pixels[:, :, :3]
        out = np.empty_like(pixels)
        if not gray and pixels.shape[2] == 4:
            out[:, :, 3] = pixels[:, :, 3]  # alpha passes through

        def emit(lo: int, hi: int, rows: np.ndarray) -> None:
            if self.strength != 1.0:  # (C, rows, W) floats; a gray input's one channel broadcasts
                base = src[lo:hi].transpose(2, 0, 1).astype(np.float32) / np.float32(scale)
                rows = base + np.float32(self.strength) * (rows - base)
            rows = np.clip(rows, 0.0, 1.0, out=rows if rows.flags.writeable and rows.base is None else None)
            if gray:
                rows = np.tensordot(_LUMA, rows, axes=1)
            np.multiply(rows, scale, out=rows)
            np.rint(rows, out=rows)
            if gray:
                out[lo:hi] = rows
            else:
                out[lo:hi, :, :3] = rows.transpose(1, 2, 0)

        self._tiled(src, scale, emit, on_batch)
        return out
