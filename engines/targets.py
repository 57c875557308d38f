"""Per-target rules for building engines: devices, precisions, the OpenVINO shape range, and what to run
when an engine is missing."""

from __future__ import annotations

from pathlib import Path

from deblurcli.errors import EngineError

from .cache import EngineKey, near_misses

MAX_SIDE = 4096  # the largest tile side an OpenVINO engine takes (bigger images are tiled)


def frame_range(tile: int, multiple: int) -> str:
    """An OpenVINO engine's shape range: from two grid units to MAX_SIDE, optimised for ``tile``."""
    return f"{2 * multiple}:{min(max(tile, 2 * multiple), MAX_SIDE)}:{MAX_SIDE}"


def resolve_precision(backend: str, precision: str) -> str:
    """``auto``: bf16 for OpenVINO on a CPU with native bf16 (measured 2x faster, within 0.03 dB), else fp32."""
    if precision != "auto":
        return precision
    if backend == "openvino":
        from .openvino_engine import native_bf16

        return "bf16" if native_bf16() else "fp32"
    return "fp32"


def _openvino_device(device: str, precision: str) -> str:
    from .openvino_engine import require_openvino

    require_openvino()
    if device.startswith("cuda"):
        raise EngineError("the OpenVINO engine runs on the CPU; use --device cpu, or --engine tensorrt on a GPU")
    if precision not in ("fp32", "bf16"):
        raise EngineError(f"OpenVINO engines run fp32 or bf16 on the CPU, not {precision}")
    return "cpu"


def _ort_device(device: str, precision: str) -> str:
    from .ort_engine import providers_for

    provs = providers_for("cpu" if device == "cpu" else device)
    dev = "cuda" if provs[0] != "CPUExecutionProvider" else "cpu"
    if dev == "cpu" and precision != "fp32":
        raise EngineError(
            f"{precision} ONNX engines need a GPU (ONNX Runtime's CUDA provider); use --precision fp32 on the CPU"
        )
    return dev


def missing_engine_message(key: EngineKey, out_dir: Path | None = None) -> str:
    """What to run to get an engine for ``key``, and why near misses do not match."""
    target = {"tensorrt": "tensorrt", "openvino": "openvino"}.get(key.backend, "onnx")
    b, h, _ = key.shapes.opt
    cmd = (
        f"deblurcli build-engine {key.arch} --variant {key.variant} --target {target} --tile {h} --batch {b} "
        f"--precision {key.precision}"
    )
    misses = near_misses(key, out_dir)
    why = (
        f" ({len(misses)} other engine(s) differ in: {', '.join(sorted({k for _, d in misses for k in d}))})"
        if misses
        else ""
    )
    return (
        f"no {key.backend} engine for {key.arch} ({key.variant}) with these weights and settings{why}; "
        f"build one with: {cmd}"
    )
