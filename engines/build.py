"""``deblurcli build-engine``: export, build, verify, cache; and finding engines again.

A build exports the model to ONNX at the tile shape the tiler will feed,
turns it into an engine (the checked ONNX graph itself for ONNX Runtime, a
serialized plan for TensorRT), runs the engine and PyTorch over real images
through the same tile plan, and keeps the engine only if the two agree
(see :mod:`engines.verify`). The file is named by its :class:`EngineKey`;
``folder``/``eval`` find it again by recomputing the key.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deblurcli.catalog import BUILD_TARGETS as TARGETS
from deblurcli.errors import DeblurError

from .cache import (
    EngineKey,
    ShapeRange,
    cache_dir,
    file_digest,
    find_engine,
    plan_shapes,
    read_sidecar,
    sidecar,
    write_sidecar,
)
from .onnx_export import DEFAULT_OPSET, export_onnx
from .targets import (  # noqa: F401  (missing_engine_message is part of this module's API)
    _openvino_device,
    _ort_device,
    frame_range,
    missing_engine_message,
    resolve_precision,
)
from .torch_engine import EngineError, TorchEngine, cuda_device

log = logging.getLogger(__name__)


def ort_version() -> str | None:
    from importlib import metadata

    for dist in ("onnxruntime", "onnxruntime-gpu"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def engine_key(
    loaded: Any, backend: str, shapes: ShapeRange, precision: str, device: str = "cpu", opset: int = DEFAULT_OPSET
) -> EngineKey:
    """The key of an engine for ``loaded`` (a :class:`deblurcli.loading.LoadedModel`)."""
    weights = file_digest(loaded.weights)
    if backend == "tensorrt":
        from .trt_engine import gpu_identity, trt_version

        name, cc = gpu_identity(_cuda_index(device))
        return EngineKey(
            "tensorrt",
            trt_version() or "none",
            loaded.arch,
            loaded.variant,
            weights,
            shapes,
            precision,
            name,
            cc,
            opset,
        )
    if backend == "openvino":
        from .openvino_engine import openvino_key

        return openvino_key(loaded.arch, loaded.variant, weights, shapes, precision, opset)
    if backend == "onnxruntime":
        return EngineKey(
            "onnxruntime",
            ort_version() or "none",
            loaded.arch,
            loaded.variant,
            weights,
            shapes,
            precision,
            "cuda" if device.startswith("cuda") else "cpu",
            "",
            opset,
        )
    raise ValueError(f"unknown back end {backend!r}")


def _cuda_index(device: str) -> int:
    return int(device.split(":")[1]) if device.startswith("cuda:") else 0


def open_engine(path: Path, key: EngineKey, device: str = "cpu", threads: int | None = None):
    if key.backend == "openvino":
        from .openvino_engine import OpenVinoEngine

        return OpenVinoEngine(path, key.shapes, precision=key.precision, threads=threads)
    if key.backend == "onnxruntime":
        from .ort_engine import OrtEngine

        return OrtEngine(path, key.shapes, device=key.device, threads=threads, precision=key.precision)
    from .trt_engine import TrtEngine

    return TrtEngine(path, key.shapes, device=cuda_device(device), precision=key.precision)


@dataclass
class BuildResult:
    path: Path
    key: EngineKey
    verification: Any
    seconds: float
    reused: bool = False


def build(
    loaded: Any,
    target: str,
    tile: int,
    batch: int = 1,
    precision: str = "fp32",
    out_dir: Path | None = None,
    dynamic: str | None = None,
    overlap: int | None = None,
    device: str = "auto",
    verify_dir: Path | None = None,
    threads: int | None = None,
    force: bool = False,
    opset: int = DEFAULT_OPSET,
    say: Callable[[str], None] = log.info,
) -> BuildResult:
    """Build, verify and cache an engine; reuse a matching verified one unless ``force``."""
    from .verify import Verification, load_images

    if target not in TARGETS:
        raise EngineError(f"unknown target {target!r} (use {' or '.join(TARGETS)})")
    backend = TARGETS[target]
    precision = resolve_precision(backend, precision)
    device, dynamic = _target_device(backend, device, precision, dynamic, tile, loaded.pad_multiple)
    try:
        shapes = plan_shapes(tile, batch, loaded.pad_multiple, dynamic)
    except ValueError as e:
        raise EngineError(str(e)) from None
    key = engine_key(loaded, backend, shapes, precision, device, opset)
    out_dir = Path(out_dir) if out_dir else cache_dir()
    path = out_dir / key.filename()
    existing = find_engine(key, out_dir)
    if existing and not force:
        info = read_sidecar(existing) or {}
        v = Verification(threshold=info.get("verification", {}).get("threshold_db", 0.0))
        return BuildResult(existing, key, v, 0.0, reused=True)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise EngineError(f"cannot create engine folder {out_dir}: {e.strerror or e}") from None
    try:
        images = load_images(verify_dir)
    except (OSError, ValueError, DeblurError) as e:
        raise EngineError(f"cannot verify: {e}") from None
    t0 = time.perf_counter()
    _export_and_compile(loaded, key, path, out_dir, opset, say)
    seconds = time.perf_counter() - t0
    say(f"verifying against PyTorch on {len(images)} real images")
    result, record = _verify(loaded, key, path, device, threads, overlap, images)
    record.update(build_seconds=round(seconds, 2), weights_file=str(loaded.weights))
    write_sidecar(path, key, {**record, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    return BuildResult(path, key, result, seconds)


def _target_device(
    backend: str, device: str, precision: str, dynamic: str | None, tile: int, multiple: int
) -> tuple[str, str | None]:
    """The device a target builds for, and its shape range (OpenVINO engines always take a range)."""
    if backend == "tensorrt":
        from .trt_engine import require_tensorrt

        require_tensorrt()
        return (cuda_device(device)), dynamic
    if backend == "openvino":
        return _openvino_device(device, precision), dynamic or frame_range(tile, multiple)
    return _ort_device(device, precision), dynamic


def _export_and_compile(
    loaded: Any, key: EngineKey, path: Path, out_dir: Path, opset: int, say: Callable[[str], None]
) -> None:
    """ONNX export (the engine itself for ONNX Runtime and OpenVINO), then a TensorRT plan where asked."""
    trt = key.backend == "tensorrt"
    onnx_path = path.with_name(path.name + ".export.onnx") if trt else path
    say(f"exporting {loaded.arch} ({loaded.variant}) to ONNX opset {opset}, tiles {key.shapes.tag()}")
    try:
        export_onnx(loaded.model, onnx_path, key.shapes, loaded.pad_multiple, opset)
        if trt:
            from .trt_engine import build_engine

            say(f"building a TensorRT {key.precision} engine (minutes; the timing cache makes rebuilds faster)")
            build_engine(onnx_path, path, key.shapes, key.precision, out_dir / f"timing-{key.device_slug()}.cache")
    except Exception:
        for p in (path, onnx_path):
            p.unlink(missing_ok=True)
        raise
    finally:
        if trt:
            onnx_path.unlink(missing_ok=True)


def _verify(
    loaded: Any, key: EngineKey, path: Path, device: str, threads: int | None, overlap: int | None, images: list
) -> tuple[Any, dict[str, Any]]:
    """The engine against PyTorch on real images through one tile plan; a failing engine is deleted."""
    from deblurcli.pipeline import Deblurrer

    from .verify import verify

    t, multiple, batch = key.shapes.opt[1], loaded.pad_multiple, key.shapes.opt[0]
    ov = min(loaded.config.overlap if overlap is None else overlap, t // 2)
    fixed = key.backend != "openvino"  # OpenVINO takes every size in its range: verify whole images
    ref_device = "cpu" if key.backend in ("onnxruntime", "openvino") and device == "cpu" else device
    try:
        with (
            open_engine(path, key, device, threads) as engine,
            TorchEngine(loaded.model, device=ref_device, threads=threads) as ref,
        ):
            run = Deblurrer(engine, tile=t, overlap=ov, multiple=multiple, batch=batch, fixed_shape=fixed)
            run_ref = Deblurrer(ref, tile=t, overlap=ov, multiple=multiple, batch=batch, fixed_shape=fixed)
            result = verify(run.run, run_ref.run, images, key.precision)
    except Exception:
        path.unlink(missing_ok=True)
        raise
    if not result.passed:
        path.unlink(missing_ok=True)
        sidecar(path).unlink(missing_ok=True)
        raise EngineError(
            f"verification failed: the engine's output is {result.worst:.1f} dB from PyTorch's, "
            f"below the {result.threshold:.0f} dB needed for {key.precision}; engine deleted"
        )
    record = {"verified": True, "verification": result.to_dict(), "tile": t, "overlap": ov, "pad_multiple": multiple}
    return result, record
