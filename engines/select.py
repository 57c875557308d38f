"""``--engine auto|torch|onnxruntime|tensorrt``: which back end runs a job.

``auto`` picks TensorRT when there is a GPU, TensorRT is installed and a
matching engine was built; else ONNX Runtime when it is installed and a
matching engine exists; else PyTorch. Asking for ``onnxruntime`` builds the
missing engine on the spot (an export takes seconds); asking for
``tensorrt`` without an engine says which ``build-engine`` command to run.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

from deblurcli.catalog import ENGINE_NAMES as CHOICES
from deblurcli.errors import DeblurError
from deblurcli.runtime import cpu_has_native_bf16

from .base import Selected
from .build import build, engine_key, open_engine
from .cache import find_engine, known_failure, plan_shapes, remember_failure
from .targets import frame_range, missing_engine_message, resolve_precision
from .torch_engine import EngineError, TorchEngine, cuda_device

log = logging.getLogger(__name__)


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _trt_candidate(loaded: Any, tile: int, batch: int, precision: str, device: str, engine_dir: Path | None):
    from .trt_engine import gpu_available

    if not (gpu_available() and _installed("tensorrt")) or device == "cpu":
        return None
    dev = cuda_device(device)
    key = engine_key(loaded, "tensorrt", plan_shapes(tile, batch, loaded.pad_multiple), precision, dev)
    path = find_engine(key, engine_dir)
    return (key, path, dev) if path else None


def select_engine(
    choice: str,
    loaded: Any,
    device: str,
    precision: str,
    threads: int | None,
    tile: int,
    batch: int,
    engine_dir: Path | None = None,
    compile_model: bool = False,
) -> Selected:
    if choice not in CHOICES:
        raise EngineError(f"unknown engine {choice!r} (use {', '.join(CHOICES)})")
    if compile_model:  # torch.compile is a PyTorch engine setting: auto means that engine
        if choice not in ("auto", "torch"):
            raise EngineError(f"--compile runs the PyTorch engine; it cannot go with --engine {choice}")
        choice = "torch"
        if precision == "auto":
            precision = "bf16" if _on_cpu(device) and cpu_has_native_bf16() else "fp32"
    if precision == "auto" and choice not in ("auto", "openvino"):
        precision = "fp32"  # auto means bf16 only where OpenVINO runs it natively
    if choice == "torch":
        precision = "fp32" if precision == "auto" else precision
        engine = TorchEngine(loaded.model, device=device, precision=precision, threads=threads, compile=compile_model)
        return Selected(engine, False)
    if choice == "tensorrt":
        from .trt_engine import require_tensorrt

        require_tensorrt()
        dev = cuda_device(device)
        key = engine_key(loaded, "tensorrt", plan_shapes(tile, batch, loaded.pad_multiple), precision, dev)
        path = find_engine(key, engine_dir)
        if path is None:
            raise EngineError(missing_engine_message(key, engine_dir))
        return Selected(open_engine(path, key, dev, threads), True, path)
    if choice == "openvino":
        return _openvino(loaded, precision, threads, tile, batch, engine_dir)
    if choice == "auto":
        return _auto(loaded, device, precision, threads, tile, batch, engine_dir)
    # onnxruntime, asked for by name
    if not _installed("onnxruntime"):
        raise EngineError("the ONNX Runtime engine needs onnxruntime: pip install 'deblurcli[onnx]'")
    ort_device = "cpu" if device in ("auto", "cpu") else device
    key = engine_key(loaded, "onnxruntime", plan_shapes(tile, batch, loaded.pad_multiple), precision, ort_device)
    path = find_engine(key, engine_dir)
    if path is None:
        log.warning(
            "no ONNX engine for %s (%s) at tile %d, batch %d yet: building one",
            loaded.arch,
            loaded.variant,
            tile,
            batch,
        )
        path = build(loaded, "onnx", tile, batch, precision, engine_dir, device=ort_device, threads=threads).path
    return Selected(open_engine(path, key, ort_device, threads), True, path)


def _on_cpu(device: str) -> bool:
    from .trt_engine import gpu_available

    return device == "cpu" or (device == "auto" and not gpu_available())


def _openvino(
    loaded: Any, precision: str, threads: int | None, tile: int, batch: int, engine_dir: Path | None, auto=False
) -> Selected:
    """The verified OpenVINO engine for this model (any tile size up to its range), built on first use. With
    ``auto``, a build that failed before for the same key is not tried again, and a failure is recorded."""
    precision = resolve_precision("openvino", precision)
    shapes = plan_shapes(tile, batch, loaded.pad_multiple, frame_range(tile, loaded.pad_multiple))
    key = engine_key(loaded, "openvino", shapes, precision, "cpu")
    path = find_engine(key, engine_dir)
    if path is None:
        reason = known_failure(key, engine_dir) if auto else None
        if reason is not None:
            raise EngineError(f"{reason} (an earlier build; --engine openvino tries again)")
        log.warning(
            "building an OpenVINO %s engine for %s (%s) once (about half a minute; it is cached)",
            precision,
            loaded.arch,
            loaded.variant,
        )
        try:
            path = build(loaded, "openvino", tile, batch, precision, engine_dir, device="cpu", threads=threads).path
        except (EngineError, DeblurError) as e:
            if auto:
                remember_failure(key, str(e), engine_dir)
            raise
    return Selected(open_engine(path, key, "cpu", threads), False, path)


def _auto(
    loaded: Any, device: str, precision: str, threads: int | None, tile: int, batch: int, engine_dir: Path | None
) -> Selected:
    """A TensorRT engine built for this GPU; on a CPU OpenVINO (built on first use), else a built ONNX Runtime
    engine; else PyTorch."""
    found = _trt_candidate(loaded, tile, batch, "fp32" if precision == "auto" else precision, device, engine_dir)
    if found:
        key, path, dev = found
        return Selected(open_engine(path, key, dev, threads), True, path)
    on_cpu = _on_cpu(device)
    if on_cpu and _installed("openvino") and precision in ("auto", "fp32", "bf16"):
        try:
            return _openvino(loaded, precision, threads, tile, batch, engine_dir, auto=True)
        except (EngineError, DeblurError) as e:  # e.g. a model that exports only at static shapes
            log.warning("OpenVINO cannot run %s (%s): %s; using PyTorch", loaded.arch, loaded.variant, e)
    precision = "fp32" if precision == "auto" else precision
    if _installed("onnxruntime") and precision == "fp32" and on_cpu:
        key = engine_key(loaded, "onnxruntime", plan_shapes(tile, batch, loaded.pad_multiple), "fp32", "cpu")
        path = find_engine(key, engine_dir)
        if path:
            return Selected(open_engine(path, key, "cpu", threads), True, path)
    return Selected(TorchEngine(loaded.model, device=device, precision=precision, threads=threads), False)
