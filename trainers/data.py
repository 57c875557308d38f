"""Training data: blurry/sharp pairs from folders or the study's arrays.

Layouts found under a root, at any depth:

* the GoPro layout, ``ROOT/<sequence>/blur/*.png`` + ``ROOT/<sequence>/sharp/*.png``
  (``blur_gamma`` instead of ``blur`` with ``blur_dir="blur_gamma"``);
* a plain pair of folders, ``ROOT/blur`` + ``ROOT/sharp``;
* the origin study's arrays, ``X_train.npy``/``y_train.npy`` (blurry/sharp,
  uint8, N x H x W x 3, RGB) and ``X_test.npy``/``y_test.npy``.

A pair is matched by file stem. The group of a pair (its sequence: the folder
holding ``blur/``) is what validation splits by, so frames of one sequence
never land on both sides. Crops, flips and 90-degree rotations are applied
identically to both images; a pair that cannot be read or whose sizes differ
is reported once and skipped.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from deblurcli.errors import DeblurError, ImageError
from deblurcli.images import IMAGE_EXTS, read_image

log = logging.getLogger("deblurcli.train")


class DataError(DeblurError):
    """A dataset folder has no usable pairs."""


@dataclass(frozen=True)
class Pair:
    blur: Path | None
    sharp: Path | None
    group: str
    index: int = -1  # row of an array source
    source: ArraySource | None = None

    @property
    def name(self) -> str:
        if self.source is not None:
            return f"{self.group}[{self.index}]"
        return f"{self.group}/{self.blur.name if self.blur else '?'}"


class ArraySource:
    """The study's X/y .npy arrays, memory-mapped."""

    def __init__(self, x: Path, y: Path) -> None:
        self.x = np.load(x, mmap_mode="r")
        self.y = np.load(y, mmap_mode="r")
        if self.x.shape != self.y.shape or self.x.ndim != 4 or self.x.shape[-1] != 3:
            raise DataError(
                f"{x.name} {self.x.shape} and {y.name} {self.y.shape}: expected two N x H x W x 3 arrays "
                "of the same shape"
            )
        if self.x.dtype != np.uint8 or self.y.dtype != np.uint8:
            raise DataError(f"{x.name}: expected uint8 arrays, found {self.x.dtype}/{self.y.dtype}")


def _images(d: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(d.iterdir()) if p.suffix.lower() in IMAGE_EXTS and p.is_file()}


def find_pairs(root: str | Path, blur_dir: str = "blur", split: str = "train") -> list[Pair]:
    """Every blurry/sharp pair below ``root``; a clear error when there are none."""
    root = Path(root)
    if not root.exists():
        raise DataError(f"data folder {root} does not exist")
    if root.is_file():
        raise DataError(
            f"data {root} is a file; expected a folder with blur/ and sharp/ (GoPro layout) or X_train.npy/y_train.npy"
        )
    arrays = {"train": ("X_train.npy", "y_train.npy"), "test": ("X_test.npy", "y_test.npy")}[split]
    if (root / arrays[0]).is_file() and (root / arrays[1]).is_file():
        src = ArraySource(root / arrays[0], root / arrays[1])
        # the arrays carry no sequence ids: each block of 50 rows is one group, so a split keeps
        # neighbouring rows (likely from one sequence) together
        return [Pair(None, None, f"{root.name}:{split}:{i // 50}", i, src) for i in range(len(src.x))]
    pairs: list[Pair] = []
    blur_dirs = sorted(p for p in root.rglob(blur_dir) if p.is_dir())
    if root.name == blur_dir and root.is_dir():
        blur_dirs.insert(0, root)
    lonely = []
    for bd in blur_dirs:
        sd = bd.parent / "sharp"
        if not sd.is_dir():
            lonely.append(bd)
            continue
        blurs, sharps = _images(bd), _images(sd)
        group = str(bd.parent.relative_to(root)) if bd.parent != root else root.name
        if group == ".":
            group = root.name
        missing = sorted(set(blurs) - set(sharps))
        if missing:
            log.warning(
                "%s: %d blurry image(s) have no sharp counterpart (e.g. %s); skipped", bd, len(missing), missing[0]
            )
        pairs += [Pair(blurs[k], sharps[k], group) for k in sorted(set(blurs) & set(sharps))]
    if not pairs:
        if lonely:
            raise DataError(f"{lonely[0]} has no 'sharp' folder beside it; expected {lonely[0].parent}/sharp")
        if not blur_dirs:
            raise DataError(
                f"no '{blur_dir}' folder under {root}; expected ROOT/<sequence>/{blur_dir} + "
                f"ROOT/<sequence>/sharp (GoPro layout), ROOT/{blur_dir} + ROOT/sharp, or X_train.npy"
            )
        raise DataError(f"no blurry/sharp image pairs with matching names under {root}")
    return pairs


def split_by_group(pairs: Sequence[Pair], fraction: float, seed: int = 0) -> tuple[list[Pair], list[Pair]]:
    """Hold out whole groups (sequences) holding about ``fraction`` of the pairs."""
    groups = sorted({p.group for p in pairs})
    if fraction <= 0 or len(groups) < 2:
        return list(pairs), []
    rng = random.Random(seed)
    rng.shuffle(groups)
    want = max(1, round(fraction * len(pairs)))
    val: set[str] = set()
    count = 0
    for g in groups[:-1]:  # never hold out everything
        if count >= want:
            break
        val.add(g)
        count += sum(p.group == g for p in pairs)
    return [p for p in pairs if p.group not in val], [p for p in pairs if p.group in val]


def _read_rgb(path: Path) -> np.ndarray:
    img = read_image(path)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    img = img[:, :, :3]
    if img.dtype == np.uint16:
        img = (img.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    return np.ascontiguousarray(img)


class PairLoader:
    """Reads pairs as uint8 H x W x 3 RGB, caching decoded images in memory.

    A pair that fails (unreadable file, sizes that differ) is logged once and
    remembered as bad, so the caller can skip it.
    """

    def __init__(self, pairs: Sequence[Pair], cache_bytes: int = 4 << 30) -> None:
        self.pairs = list(pairs)
        # keyed by file, not by position: a set passed --data N times (oversampled) is held once
        self.cache: dict[object, tuple[np.ndarray, np.ndarray]] = {}
        self.cache_bytes = cache_bytes
        self.cached = 0
        self.bad: set[int] = set()
        self._lock = threading.Lock()  # batches may be built in threads

    def __len__(self) -> int:
        return len(self.pairs)

    def load(self, i: int) -> tuple[np.ndarray, np.ndarray] | None:
        if i in self.bad:
            return None
        p = self.pairs[i]
        key = i if p.source is not None else (p.blur, p.sharp)
        if key in self.cache:
            return self.cache[key]
        try:
            if p.source is not None:
                blur, sharp = np.asarray(p.source.x[p.index]), np.asarray(p.source.y[p.index])
            else:
                assert p.blur is not None and p.sharp is not None  # a file pair
                blur, sharp = _read_rgb(p.blur), _read_rgb(p.sharp)
        except (ImageError, OSError, ValueError) as e:
            log.warning("skipping pair %s: %s", p.name, e)
            self.bad.add(i)
            return None
        if blur.shape != sharp.shape:
            log.warning(
                "skipping pair %s: blurry %dx%d but sharp %dx%d",
                p.name,
                blur.shape[1],
                blur.shape[0],
                sharp.shape[1],
                sharp.shape[0],
            )
            self.bad.add(i)
            return None
        with self._lock:
            if key not in self.cache and self.cached + blur.nbytes * 2 <= self.cache_bytes:
                self.cache[key] = (blur, sharp)
                self.cached += blur.nbytes * 2
        return blur, sharp


def augment_pair(
    blur: np.ndarray,
    sharp: np.ndarray,
    rng: np.random.Generator,
    patch: int | None,
    resize: int | None,
    flips: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """One random aligned crop (or the study's whole-frame resize), flips and 90-degree turns."""
    if resize:
        blur = cv2.resize(blur, (resize, resize), interpolation=cv2.INTER_AREA)
        sharp = cv2.resize(sharp, (resize, resize), interpolation=cv2.INTER_AREA)
    elif patch:
        h, w = blur.shape[:2]
        if h < patch or w < patch:  # small images are reflected up to the patch size
            ph, pw = max(0, patch - h), max(0, patch - w)
            pad = ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0))
            blur, sharp = np.pad(blur, pad, mode="reflect"), np.pad(sharp, pad, mode="reflect")
            h, w = blur.shape[:2]
        y = int(rng.integers(0, h - patch + 1))
        x = int(rng.integers(0, w - patch + 1))
        blur, sharp = blur[y : y + patch, x : x + patch], sharp[y : y + patch, x : x + patch]
    if flips:
        if rng.random() < 0.5:
            blur, sharp = blur[:, ::-1], sharp[:, ::-1]
        if rng.random() < 0.5:
            blur, sharp = blur[::-1], sharp[::-1]
        k = int(rng.integers(0, 4))
        if k and blur.shape[0] == blur.shape[1]:
            blur, sharp = np.rot90(blur, k), np.rot90(sharp, k)
    return blur, sharp


def to_tensor(images: Sequence[np.ndarray]) -> torch.Tensor:
    """uint8 H x W x 3 images -> float32 N x 3 x H x W in [0, 1]."""
    arr = np.stack([np.ascontiguousarray(im) for im in images]).transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(arr)).float().div_(255.0)


def iterate_pairs(loader: PairLoader, on_skip: Callable[[Pair], None] | None = None):
    """(pair, blur, sharp) for every readable pair, in order."""
    for i, p in enumerate(loader.pairs):
        item = loader.load(i)
        if item is None:
            if on_skip:
                on_skip(p)
            continue
        yield p, item[0], item[1]
