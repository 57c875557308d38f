"""TensorRT back end: build an engine from ONNX, run it on torch CUDA tensors.

Written against the TensorRT Python API of versions 10 and 11; ``tensorrt``
is imported only when a TensorRT engine is built or run.

Precision. TensorRT 11 removed the weak-typing builder flags
(``BuilderFlag.FP16``/``BF16``): reduced precision has to be in the graph.
For fp16/bf16 the ONNX graph is therefore converted to mixed precision with
NVIDIA ModelOpt AutoCast (inputs and outputs kept fp32) and built as a
strongly typed network. When ModelOpt is missing and TensorRT is 10.x, the
old builder flag is the fallback.

Running. I/O is by tensor name: ``set_input_shape``, ``set_tensor_address``
on torch CUDA tensors, ``execute_async_v3`` on torch's current CUDA stream
(no pycuda, no cuda-python).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deblurcli.errors import reraise_interrupt

from .base import EngineInfo
from .cache import ShapeRange
from .onnx_export import INPUT, OUTPUT
from .static import ShapeCheckedEngine

log = logging.getLogger(__name__)

NEEDS_GPU = (
    "TensorRT needs an NVIDIA GPU with CUDA, and none is available here; use --target onnx (ONNX Runtime, CPU) instead"
)


def _error(message: str) -> Exception:
    from .torch_engine import EngineError

    return EngineError(message)


def gpu_available() -> bool:
    import torch

    return torch.cuda.is_available()


def require_tensorrt():
    """The tensorrt module, after checking there is a GPU to use it on."""
    if not gpu_available():
        raise _error(NEEDS_GPU)
    try:
        import tensorrt as trt
    except ImportError as e:
        reraise_interrupt(e)
        raise _error("TensorRT is not installed: pip install 'deblurcli[tensorrt]' (needs an NVIDIA GPU)") from None
    return trt


def trt_version() -> str | None:
    """The installed TensorRT version, without importing it (None when absent)."""
    from importlib import metadata

    for dist in ("tensorrt", "tensorrt-cu13", "tensorrt-cu12"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def gpu_identity(device: int = 0) -> tuple[str, str]:
    """(GPU name, compute capability "major.minor") for the cache key."""
    import torch

    major, minor = torch.cuda.get_device_capability(device)
    return torch.cuda.get_device_name(device), f"{major}.{minor}"


def _major(trt) -> int:
    return int(trt.__version__.split(".")[0])


def to_mixed_precision(onnx_path: Path, out_path: Path, precision: str) -> Path | None:
    """fp16/bf16 in the graph (TensorRT 11's way), I/O kept fp32. None if ModelOpt is missing."""
    try:
        import modelopt.onnx.autocast as autocast
    except ImportError:
        return None
    import onnx

    low = {"fp16": "fp16", "bf16": "bf16"}[precision]
    model = autocast.convert_to_mixed_precision(onnx_path=str(onnx_path), low_precision_type=low, keep_io_types=True)
    onnx.save(model, str(out_path))
    return out_path


@dataclass
class BuildSettings:
    workspace_mb: int = 4096
    builder_optimization_level: int = 3


def build_engine(
    onnx_path: Path,
    engine_path: Path,
    shapes: ShapeRange,
    precision: str,
    timing_cache: Path,
    settings: BuildSettings | None = None,
) -> Path:
    """Build a serialized TensorRT engine for ``shapes`` from an fp32 ONNX graph."""
    trt = require_tensorrt()
    settings = settings or BuildSettings()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    source, weak_flag = _precision_source(trt, onnx_path, precision)
    strongly = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    flags = 0 if (weak_flag is not None or strongly is None) else 1 << int(strongly)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    try:
        parsed = parser.parse(Path(source).read_bytes())
    finally:
        if source != onnx_path:
            Path(source).unlink(missing_ok=True)
    if not parsed:
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise _error(f"TensorRT could not parse {source.name}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, settings.workspace_mb << 20)
    config.builder_optimization_level = settings.builder_optimization_level
    if weak_flag is not None:
        config.set_flag(weak_flag)
    profile = builder.create_optimization_profile()
    profile.set_shape(
        INPUT,
        (shapes.min[0], 3, *shapes.min[1:]),
        (shapes.opt[0], 3, *shapes.opt[1:]),
        (shapes.max[0], 3, *shapes.max[1:]),
    )
    config.add_optimization_profile(profile)
    cache = config.create_timing_cache(timing_cache.read_bytes() if timing_cache.is_file() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise _error("TensorRT failed to build the engine (see the messages above)")
    from deblurcli.images import write_atomic

    write_atomic(engine_path, bytes(plan))
    write_atomic(timing_cache, bytes(config.get_timing_cache().serialize()))
    return engine_path


def _precision_source(trt: Any, onnx_path: Path, precision: str) -> tuple[Path, Any]:
    """The graph to parse and, on TensorRT 10 without ModelOpt, the builder flag for fp16/bf16."""
    source = onnx_path
    weak_flag = None
    if precision != "fp32":
        mixed = to_mixed_precision(onnx_path, onnx_path.with_name(onnx_path.stem + f".{precision}.onnx"), precision)
        if mixed is not None:
            source = mixed
        elif _major(trt) < 11 and hasattr(trt.BuilderFlag, precision.upper()):
            weak_flag = getattr(trt.BuilderFlag, precision.upper())
            log.warning(
                "nvidia-modelopt is not installed: building %s with TensorRT %s's builder flag",
                precision,
                trt.__version__,
            )
        else:
            raise _error(
                f"{precision} with TensorRT {trt.__version__} needs the graph converted first: "
                "pip install 'nvidia-modelopt[onnx]'"
            )
    return source, weak_flag


class TrtEngine(ShapeCheckedEngine):
    """A serialized TensorRT engine run by tensor name on torch's CUDA stream."""

    def __init__(self, path: Path, shapes: ShapeRange, device: str = "cuda:0", precision: str = "fp32") -> None:
        import torch

        trt = require_tensorrt()
        self.torch = torch
        from .torch_engine import cuda_device

        self.device = torch.device(cuda_device(device))
        torch.cuda.set_device(self.device)
        self.logger = trt.Logger(trt.Logger.WARNING)
        self.runtime = trt.Runtime(self.logger)
        self.engine = self.runtime.deserialize_cuda_engine(Path(path).read_bytes())
        if self.engine is None:
            raise _error(f"{path} is not a TensorRT engine for this TensorRT/GPU; rebuild it with build-engine")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        if INPUT not in names or OUTPUT not in names:
            raise _error(f"{path} does not have '{INPUT}' and '{OUTPUT}' tensors")
        self.shapes = shapes
        self.info = EngineInfo(name="tensorrt", device=str(self.device), precision=precision)

    def run_exact(self, batch: np.ndarray) -> np.ndarray:
        torch = self.torch
        x = torch.from_numpy(batch).to(self.device, non_blocking=True)
        self.context.set_input_shape(INPUT, tuple(x.shape))
        y = torch.empty(tuple(self.context.get_tensor_shape(OUTPUT)), dtype=torch.float32, device=self.device)
        self.context.set_tensor_address(INPUT, x.data_ptr())
        self.context.set_tensor_address(OUTPUT, y.data_ptr())
        stream = torch.cuda.current_stream(self.device)
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise _error("TensorRT execution failed")
        return y.cpu().numpy()  # synchronises with the stream

    def close(self) -> None:
        self.context = None
        self.engine = None
        self.runtime = None
