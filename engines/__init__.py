"""Inference back ends sharing one protocol (see :mod:`engines.base`).

Heavy back ends (ONNX Runtime, TensorRT) are imported lazily by their own
modules; importing this package imports neither.
"""

from deblurcli.catalog import ENGINE_NAMES

from .base import Engine, EngineBase, EngineInfo

__all__ = ["ENGINE_NAMES", "Engine", "EngineBase", "EngineInfo"]
