"""Opening a verified OpenVINO engine from the cache without importing PyTorch.

A cached engine needs nothing from torch: the graph is in the file, the key is recomputed from the weights'
bytes, the model's names and the versions (torch's read from its ``version.py``). Skipping ``import torch``
saves 648 MB of resident memory and about 2.6 s of start-up with the CUDA build of torch measured here,
which is most of what a folder job holds besides the images. The model's pad multiple, which the key's shape
range depends on, is recorded in the sidecar by the build; engines built before that are found by the full
path instead (:func:`engines.select.select_engine`), which is also what builds a missing engine.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from .cache import SUFFIX, cache_dir, file_digest, find_engine, plan_shapes
from .targets import frame_range, resolve_precision


def open_cached_openvino(
    arch: str,
    variant: str,
    weights: Path,
    precision: str,
    tile: int,
    batch: int,
    threads: int | None,
    engine_dir: Path | None = None,
) -> tuple[Any, Path, int] | None:
    """(the engine, its file, the model's pad multiple) when a verified engine for exactly these weights,
    precision and tiles is cached; else None."""
    if precision not in ("auto", "fp32", "bf16") or importlib.util.find_spec("openvino") is None:
        return None
    from .openvino_engine import OpenVinoEngine, openvino_key

    precision = resolve_precision("openvino", precision)
    digest = file_digest(weights)
    for side in sorted((engine_dir or cache_dir()).glob(f"{arch}-{variant}-{digest[:8]}-*{SUFFIX['openvino']}.json")):
        try:
            multiple = int(json.loads(side.read_text())["pad_multiple"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        shapes = plan_shapes(tile, batch, multiple, frame_range(tile, multiple))
        key = openvino_key(arch, variant, digest, shapes, precision)
        path = find_engine(key, engine_dir)
        if path is not None:
            return OpenVinoEngine(path, key.shapes, precision=precision, threads=threads), path, multiple
    return None
