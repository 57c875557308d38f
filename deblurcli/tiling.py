"""Tiled inference in pure numpy: plan, run any callable, blend back.

After chaiNNer's ``auto_split`` and tile blending. The image is a
channels-first array (C, H, W), reflect-padded at the bottom and right to the
model's ``multiple``. Tiles of one shape (so batches stack and static-shape
engines apply) are laid out on that multiple's grid with at least ``overlap``
pixels of overlap, evenly spread. Each tile is weighted by a raised-cosine
(half-sine squared) ramp over the part it shares with a neighbour and by 1
elsewhere, and the weighted sum is normalised in float64. With an identity
callable the result equals the input bit for bit.

This module knows nothing of torch: the callable takes and returns
(N, C, h, w) arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

BatchFn = Callable[[np.ndarray], np.ndarray]


def round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


@dataclass(frozen=True)
class AxisPlan:
    size: int  # image length along this axis
    padded: int  # length after padding
    tile: int  # tile length (a multiple of the model's multiple)
    starts: tuple[int, ...]


@dataclass(frozen=True)
class TilePlan:
    height: AxisPlan
    width: AxisPlan

    @property
    def tile_shape(self) -> tuple[int, int]:
        return self.height.tile, self.width.tile

    @property
    def boxes(self) -> list[tuple[int, int]]:
        """Top-left corners of every tile, row by row."""
        return [(y, x) for y in self.height.starts for x in self.width.starts]

    def __len__(self) -> int:
        return len(self.height.starts) * len(self.width.starts)


def plan_axis(
    size: int, tile: int, overlap: int, multiple: int = 1, fixed: bool = False, fit: bool = False
) -> AxisPlan:
    """Lay out tiles along one axis.

    The axis is padded to a multiple of ``multiple`` (to at least ``tile`` when
    ``fixed``, for static-shape engines) and ``tile`` is rounded up to
    ``multiple``. A padded axis no longer than a tile gets one tile. Otherwise
    the fewest tiles that overlap by at least ``overlap`` are spread evenly,
    every start on the ``multiple`` grid: a tile then sees the same
    downsampling phase and attention windows as the whole frame would, and
    the last tile ends at the padded edge. With ``fit`` (and not ``fixed``),
    the tiles are then shortened to the least length that still covers the axis with that
    overlap, so the overlap is not larger than asked (4000 px in 512 px tiles
    overlapping by 32: nine tiles of 480 instead of nine of 512).
    """
    if size < 1:
        raise ValueError(f"image dimension must be positive, got {size}")
    if tile < 1 or multiple < 1:
        raise ValueError("tile and multiple must be positive")
    if overlap < 0:
        raise ValueError("overlap must not be negative")
    tile = round_up(tile, multiple)
    padded = round_up(size, multiple)
    if padded <= tile:
        t = tile if fixed else padded
        return AxisPlan(size=size, padded=t, tile=t, starts=(0,))
    overlap = min(overlap, tile // 2)
    span_u = (padded - tile) // multiple  # last start, in grid units
    step_u = max(1, (tile - overlap) // multiple)  # largest step keeping the overlap
    n = -(-span_u // step_u) + 1
    if fit and not fixed:  # a dynamic engine: the shortest tile that covers the axis in n tiles with the overlap
        t = round_up(-(-(padded + (n - 1) * overlap) // n), multiple)
        while t < tile and _min_overlap(_spread(padded, t, n, multiple), t) < overlap:
            t += multiple
        tile = t
    return AxisPlan(size=size, padded=padded, tile=tile, starts=_spread(padded, tile, n, multiple))


def _spread(padded: int, tile: int, n: int, multiple: int) -> tuple[int, ...]:
    """``n`` starts on the ``multiple`` grid, evenly spread from 0 to ``padded - tile``."""
    span_u = (padded - tile) // multiple
    return tuple(round(i * span_u / (n - 1)) * multiple for i in range(n))


def _min_overlap(starts: tuple[int, ...], tile: int) -> int:
    return min(tile - (b - a) for a, b in zip(starts, starts[1:]))


def plan_tiles(
    height: int, width: int, tile: int, overlap: int, multiple: int = 1, fixed: bool = False, fit: bool = False
) -> TilePlan:
    return TilePlan(
        plan_axis(height, tile, overlap, multiple, fixed, fit),
        plan_axis(width, tile, overlap, multiple, fixed, fit),
    )


def _ramp(n: int) -> np.ndarray:
    """n strictly positive weights rising towards 1 (half-sine squared)."""
    i = np.arange(1, n + 1, dtype=np.float64)
    return np.sin(0.5 * np.pi * i / (n + 1)) ** 2


def axis_weights(axis: AxisPlan) -> list[np.ndarray]:
    """One 1-D weight profile per tile start: ramps where neighbours overlap."""
    out = []
    starts = axis.starts
    for k, s in enumerate(starts):
        w = np.ones(axis.tile, dtype=np.float64)
        if k > 0:
            lead = starts[k - 1] + axis.tile - s
            if lead > 0:
                w[:lead] = _ramp(lead)
        if k + 1 < len(starts):
            trail = s + axis.tile - starts[k + 1]
            if trail > 0:
                w[axis.tile - trail :] = np.minimum(w[axis.tile - trail :], _ramp(trail)[::-1])
        out.append(w)
    return out


def pad_index(size: int, padded: int) -> np.ndarray:
    """Source index of every position of an axis padded from ``size`` to ``padded`` at its end (reflect,
    repeatedly, as numpy does; edge for a length-1 axis), so tiles are cut without a padded copy."""
    idx = np.arange(size)
    if padded == size:
        return idx
    return np.pad(idx, (0, padded - size), mode="edge" if size == 1 else "reflect")


Emit = Callable[[int, int, np.ndarray], None]


def tiled_apply(
    image: np.ndarray,
    fn: BatchFn,
    tile: int,
    overlap: int,
    multiple: int = 1,
    batch: int = 1,
    fixed: bool = False,
    on_batch: Callable[[int, int], None] | None = None,
    *,
    scale: float | None = None,
    emit: Emit | None = None,
    fit: bool = False,
) -> np.ndarray | None:
    """Run ``fn`` over tiles of an image and blend the results.

    ``image`` is (C, H, W) floating point, or, with ``scale``, an (H, W, C) integer image (C = 1 or 3) whose
    tiles are cut, converted to float32 / ``scale`` and broadcast to 3 channels one at a time, so no float
    copy of the whole image is made. ``fn`` maps an (N, C, th, tw) array to one of the same shape.
    ``emit(top, bottom, rows)`` receives the finished rows, (C, bottom - top, W), as soon as no later tile
    touches them; without it the rows are gathered into the returned (C, H, W) array (the input's dtype for
    floating input, float32 otherwise). ``on_batch(done, total)`` reports progress in tiles. Tiles are
    blended one row of tiles at a time in a float64 band, so memory is one band, not full-size frames.
    """
    cut = _Cutter(image, scale)
    c, h, w = cut.shape
    if batch < 1:
        raise ValueError("batch must be at least 1")
    plan = plan_tiles(h, w, tile, overlap, multiple, fixed, fit)
    rows, cols = pad_index(h, plan.height.padded), pad_index(w, plan.width.padded)
    th, tw = plan.tile_shape
    result = None
    if emit is None:
        dtype = image.dtype if scale is None and np.issubdtype(image.dtype, np.floating) else np.float32
        result = np.empty((c, h, w), dtype=dtype)

        def emit(lo: int, hi: int, rows_: np.ndarray) -> None:
            result[:, lo:hi] = rows_

    if len(plan) == 1:  # one tile (a whole frame): no blending at all
        out = np.asarray(fn(cut(rows, cols)[None]))
        _check(out, (1, c, th, tw))
        if on_batch is not None:
            on_batch(1, 1)
        emit(0, h, out[0, :, :h, :w])
        return result
    _blend(plan, cut, fn, rows, cols, batch, c, h, w, emit, on_batch)
    return result


def _blend(
    plan: TilePlan,
    cut: _Cutter,
    fn: BatchFn,
    rows: np.ndarray,
    cols: np.ndarray,
    batch: int,
    c: int,
    h: int,
    w: int,
    emit: Emit,
    on_batch: Callable[[int, int], None] | None,
) -> None:
    """Run the tiles row of tiles by row of tiles, blending each row into a float64 band; emit finished rows."""
    th, tw = plan.tile_shape
    wy, wx = axis_weights(plan.height), axis_weights(plan.width)
    starts = plan.height.starts
    # rows y .. y + th of the padded image (every row above y is finished when the row of tiles at y starts):
    # the blended channels and the weight sum
    band = np.zeros((c + 1, th, plan.width.padded))
    done = 0
    for k, y in enumerate(starts):
        bottom, band_top = y + th, y
        xs = list(enumerate(plan.width.starts))
        strip = cut.rows(rows[y:bottom])  # this row of tiles' source rows, gathered once
        for i in range(0, len(xs), batch):
            chunk = xs[i : i + batch]
            tiles = np.stack([cut.tile(strip, cols[x : x + tw]) for _, x in chunk])
            out = np.asarray(fn(tiles))
            _check(out, tiles.shape)
            for (j, x), t in zip(chunk, out):
                wt = np.outer(wy[k], wx[j])
                band[:c, y - band_top : bottom - band_top, x : x + tw] += t * wt
                band[c, y - band_top : bottom - band_top, x : x + tw] += wt
            done += len(chunk)
            if on_batch is not None:
                on_batch(done, len(plan))
        final = starts[k + 1] if k + 1 < len(starts) else plan.height.padded  # no later tile reaches above
        lo, hi = band_top, min(final, h)
        if hi > lo:
            emit(lo, hi, band[:c, : hi - lo, :w] / band[c, : hi - lo, :w])
        keep = bottom - final  # rows the next row of tiles also covers
        if keep > 0:
            band[:, :keep] = band[:, final - band_top : th]
        band[:, max(keep, 0) :] = 0


class _Cutter:
    """Cuts (C, th, tw) float tiles out of the image through row and column index maps."""

    def __init__(self, image: np.ndarray, scale: float | None) -> None:
        self.image, self.scale = image, scale
        if scale is None:
            if image.ndim != 3:
                raise ValueError(f"expected a (C, H, W) array, got shape {image.shape}")
            self.shape = image.shape
        else:
            if image.ndim != 3 or image.shape[2] not in (1, 3):
                raise ValueError(f"expected an (H, W, 1 or 3) integer image, got shape {image.shape}")
            self.shape = (3, image.shape[0], image.shape[1])

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """The source rows of one row of tiles, in the image's own layout."""
        return self.image[:, rows] if self.scale is None else self.image[rows]

    def tile(self, strip: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """A (C, th, tw) float tile from a strip of :meth:`rows`."""
        if self.scale is None:
            return strip[:, :, cols]
        t = strip[:, cols].transpose(2, 0, 1).astype(np.float32) / np.float32(self.scale)
        return np.broadcast_to(t, (3, *t.shape[1:])) if t.shape[0] == 1 else t

    def __call__(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return self.tile(self.rows(rows), cols)


def _check(out: np.ndarray, shape: tuple[int, ...]) -> None:
    if out.shape != tuple(shape):
        raise ValueError(f"tile callable returned shape {out.shape}, expected {tuple(shape)}")


def normalised_weights(plan: TilePlan) -> list[tuple[int, int, np.ndarray]]:
    """Each tile's blend weight after normalisation, cropped to the image.

    For inspection and tests: at every image pixel the weights of the tiles
    covering it sum to one.
    """
    wy = axis_weights(plan.height)
    wx = axis_weights(plan.width)
    th, tw = plan.tile_shape
    wsum = np.zeros((plan.height.padded, plan.width.padded))
    per_tile = []
    for ky, y in enumerate(plan.height.starts):
        for kx, x in enumerate(plan.width.starts):
            wt = np.outer(wy[ky], wx[kx])
            wsum[y : y + th, x : x + tw] += wt
            per_tile.append((y, x, wt))
    out = []
    for y, x, wt in per_tile:
        norm = wt / wsum[y : y + th, x : x + tw]
        out.append((y, x, norm[: max(0, plan.height.size - y), : max(0, plan.width.size - x)]))
    return out
