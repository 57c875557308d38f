"""Keeping validation out of training: identical files and shared blur kernels.

A validation set scores a model on blur it has never seen; two ways it can
have been seen without any folder being shared:

* **copies**: a recipe copies a clip into its validation folder while another
  copy of the same clip (or the folder it came from) is training data. Found by
  content: every validation image is compared with the training images of the
  same byte size, so only those few are read.
* **kernels**: a synthetic camera-shake set is blurred by measured kernels that
  also blurred training pairs, under another name (USRNet's 12 test kernels
  include two of Levin et al.'s 8, for one). Found through ``deblurcli
  synth``'s ``pairs.json``, which records each pair's kernel: two kernels are
  the same if they agree, to rounding, once cropped to their support and
  normalised, under any of the 8 flips and 90-degree rotations.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import Pair


def _files(pairs: Iterable[Pair]) -> set[Path]:
    return {f.resolve() for p in pairs for f in (p.blur, p.sharp) if f is not None}


def _digest(path: Path) -> bytes:
    return hashlib.sha256(path.read_bytes()).digest()


def identical_files(train: Sequence[Pair], val: Sequence[Pair]) -> list[tuple[Path, Path]]:
    """(validation file, training file) with the same bytes, each validation file once."""
    by_size: dict[int, list[Path]] = defaultdict(list)
    for f in _files(val):
        by_size[f.stat().st_size].append(f)
    candidates = [f for f in _files(train) if f.stat().st_size in by_size]
    if not candidates:
        return []
    wanted = {_digest(f): f for size in {c.stat().st_size for c in candidates} for f in by_size[size]}
    found: dict[Path, Path] = {}
    for f in sorted(candidates):
        v = wanted.get(_digest(f))
        if v is not None and v != f:
            found.setdefault(v, f)
    return sorted(found.items())


def canonical_kernel(k: np.ndarray) -> np.ndarray:
    """``k`` cropped to its support (entries above 1e-6 of its peak) and normalised to sum 1."""
    k = np.asarray(k, dtype=np.float64)
    ys, xs = np.nonzero(k > 1e-6 * k.max())
    k = k[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    return k / k.sum()


def _orientations(k: np.ndarray) -> list[np.ndarray]:
    return [np.rot90(m, r) for m in (k, k.T) for r in range(4)]


def same_kernel(a: np.ndarray, b: np.ndarray, tol: float = 1e-4) -> bool:
    """Whether two kernels are one kernel, up to shift, flips, 90-degree rotations and scale."""
    a = canonical_kernel(a)
    b = canonical_kernel(b)
    return any(o.shape == a.shape and float(np.abs(o - a).max()) <= tol * a.max() for o in _orientations(b))


@dataclass(frozen=True)
class KernelRecord:
    """One pair's kernel, as ``pairs.json`` records it."""

    pair: str  # group/name
    source: str  # e.g. real:levin09_k7
    kernel: np.ndarray


def recorded_kernels(folder: str | Path) -> list[KernelRecord]:
    """The measured ("real:") kernels of a ``deblurcli synth`` folder; [] where none are recorded."""
    side = Path(folder) / "pairs.json"
    if not side.is_file():
        return []
    try:
        records = json.loads(side.read_text()).get("pairs", [])
    except (OSError, ValueError, AttributeError):
        return []
    out = []
    for r in records:
        src, kfile = str(r.get("kernel_source", "")), r.get("kernel")
        path = Path(folder) / str(kfile)
        if src.startswith("real:") and kfile and path.is_file():
            out.append(KernelRecord(f"{r.get('group')}/{r.get('name')}", src, np.load(path)))
    return out


def shared_kernels(train_dirs: Iterable[str | Path], val_dir: str | Path) -> list[tuple[KernelRecord, str]]:
    """Validation pairs of ``val_dir`` whose measured kernel also blurs training pairs: (the pair, the training
    kernel's name)."""
    distinct: dict[bytes, tuple[np.ndarray, str]] = {}
    for d in dict.fromkeys(Path(t).resolve() for t in train_dirs):
        for r in recorded_kernels(d):
            c = canonical_kernel(r.kernel)
            distinct.setdefault(c.astype(np.float32).tobytes() + bytes(str(c.shape), "ascii"), (c, r.source))
    if not distinct:
        return []
    hits = []
    for v in recorded_kernels(val_dir):
        for k, name in distinct.values():
            if same_kernel(k, v.kernel):
                hits.append((v, name))
                break
    return hits
