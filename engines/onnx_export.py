"""PyTorch model -> checked, simplified ONNX graph at the tiler's tile shape.

torch's dynamo exporter (``torch.onnx.export(dynamo=True)``) traces the model
with ``torch.export``, so the graph has no Python-side shape branches: the
models pad to their multiple with ``pad_to_multiple``, which is a no-op at a
tile shape that already is one, and with a shape range the height and width
are declared as multiples of the pad multiple so that stays true. Its
optimiser (onnxscript: constant folding, dead-code and redundant-op removal)
is the simplification pass. The result is checked with ``onnx.checker``
(full check, with shape inference) before anyone uses it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

import torch
import torch.nn as nn

from deblurcli.atomic import atomic_path

from .cache import DEFAULT_OPSET, ShapeRange
from .torch_engine import EngineError

MIN_OPSET = 17
INPUT, OUTPUT = "input", "output"


class ExportError(EngineError):
    """The model could not be exported or the graph failed the checker."""


def _dynamic_shapes(shapes: ShapeRange, multiple: int):
    from torch.export import Dim

    (b0, h0, w0), (b1, h1, w1) = shapes.min, shapes.max
    dims: dict[int, object] = {}
    if b0 != b1:
        dims[0] = Dim("batch", min=b0, max=b1)
    if h0 != h1:
        dims[2] = multiple * Dim("height_units", min=h0 // multiple, max=h1 // multiple)
    if w0 != w1:
        dims[3] = multiple * Dim("width_units", min=w0 // multiple, max=w1 // multiple)
    return (dims,) if dims else None


def export_onnx(model: nn.Module, path: Path, shapes: ShapeRange, multiple: int, opset: int = DEFAULT_OPSET) -> Path:
    """Export ``model`` (fp32, eval mode, on the CPU) to ``path`` and check it.

    The graph takes ``input`` (N, 3, H, W) float32 in [0, 1] and returns
    ``output`` of the same shape. Written to a temporary name first, so a
    failed export never leaves a file that looks usable.
    """
    import onnx

    if opset < MIN_OPSET:
        raise ExportError(f"opset {opset} is too old; use {MIN_OPSET} or later")
    for _, h, w in (shapes.min, shapes.opt, shapes.max):
        if h % multiple or w % multiple:
            raise ExportError(f"tile {h}x{w} is not a multiple of the model's pad multiple {multiple}")
    model = model.eval().float().cpu()
    b, h, w = shapes.opt
    example = (torch.rand(b, 3, h, w),)
    path = Path(path)
    quiet = io.StringIO()
    try:
        with atomic_path(path) as tmp:
            # the exporter narrates its steps on stdout and warns about internals
            with warnings.catch_warnings(), contextlib.redirect_stdout(quiet), _quiet_loggers():
                warnings.simplefilter("ignore")
                program = torch.onnx.export(
                    model,
                    example,
                    None,
                    dynamo=True,
                    input_names=[INPUT],
                    output_names=[OUTPUT],
                    opset_version=opset,
                    dynamic_shapes=_dynamic_shapes(shapes, multiple),
                    optimize=True,
                    verbose=False,
                )
                if program is None:
                    raise ExportError("the exporter returned no program")
                program.save(str(tmp), external_data=False)
            graph = onnx.load(str(tmp))
            onnx.checker.check_model(graph, full_check=True)
    except Exception as e:  # the exporter raises many types; all mean the same to the user
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExportError(f"ONNX export failed: {first}") from e
    return path


@contextlib.contextmanager
def _quiet_loggers():
    names = ("torch.onnx", "torch.export", "onnxscript", "torch._dynamo", "torch.fx")
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in names]
    for lg, _ in saved:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in saved:
            lg.setLevel(level)
