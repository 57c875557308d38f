"""What every command shares: the group, one-line errors, exit codes, option decorators.

Exit codes: 0 all done, 1 some files failed (each reported, the rest
processed), 2 the job could not start, 130 interrupted (Ctrl-C at any moment,
one line, no traceback).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .. import __version__
from ..catalog import ENGINE_NAMES, PRECISIONS, architecture_names
from ..errors import DeblurError, caused_by_interrupt
from ..inference import DEFAULT_ENSEMBLE, InferenceOptions


class JobError(click.ClickException):
    """The job cannot start: printed as one line, exit code 2."""

    exit_code = 2


def fail(message: str) -> JobError:
    return JobError(message)


def interrupted() -> None:
    click.echo("deblurcli: interrupted", err=True)
    sys.exit(130)


class DeblurGroup(click.Group):
    """click's group, except that Ctrl-C anywhere (start-up, model loading) is one line and exit 130
    instead of click's 'Aborted!' with exit 1, or a KeyboardInterrupt traceback."""

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except (click.Abort, KeyboardInterrupt):
            interrupted()
        except click.ClickException as e:
            e.show()
            sys.exit(e.exit_code)
        except Exception as e:  # a Ctrl-C that code on the way wrapped in another error is still an interrupt
            if caused_by_interrupt(e):
                interrupted()
            raise
        sys.exit(rv if isinstance(rv, int) else 0)


def handle_errors(f: Callable) -> Callable:
    """Typed library errors become one-line messages with exit code 2."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except DeblurError as e:  # every user-facing error, engines' included (deblurcli.errors)
            raise fail(str(e)) from None

    return wrapper


OPTIONS: dict[str, Callable[[Callable], Callable]] = {
    "model": click.option(
        "-m",
        "--model",
        type=click.Choice(architecture_names()),
        help="Architecture (default: nafnet, or whatever --weights holds).",
    ),
    "variant": click.option(
        "--variant",
        help="Model variant (see 'deblurcli models'); default: the model's default, or what --weights holds.",
    ),
    "weights": click.option(
        "--weights",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Trained weights: a .safetensors from 'deblurcli train'/'convert' (the model is "
        "rebuilt from it, no -m needed) or a torch .pth state dict.",
    ),
    "device": click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."),
    "engine": click.option(
        "--engine",
        type=click.Choice(ENGINE_NAMES),
        default="auto",
        show_default=True,
        help="Inference back end. auto: a TensorRT engine built for this GPU; on a CPU, OpenVINO when installed "
        "(its engine is built and verified on first use), else an ONNX Runtime engine built by 'build-engine', "
        "else PyTorch. openvino and onnxruntime build their engine if missing.",
    ),
    "engine_dir": click.option(
        "--engine-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Where built engines are (default: $DEBLURCLI_ENGINE_DIR or ~/.cache/deblurcli/engines).",
    ),
    "precision": click.option(
        "--precision",
        type=click.Choice(PRECISIONS),
        default="auto",
        show_default=True,
        help="Compute precision. auto: bf16 with OpenVINO on CPUs with native bf16 (AVX512-BF16/AMX), else "
        "fp32. bf16 also runs with --engine torch on such CPUs; fp16 needs CUDA.",
    ),
    "threads": click.option("--threads", type=click.IntRange(min=1), help="CPU threads (default: all cores)."),
    "tile": click.option(
        "--tile",
        type=click.IntRange(min=8),
        help="Tile size in pixels (default: on a CPU whole frames up to 2.2 MP, else tiles of at most 832 shortened "
        "to the least overlap; on a GPU the model's).",
    ),
    "overlap": click.option(
        "--overlap", type=click.IntRange(min=0), help="Tile overlap in pixels (default: the model's)."
    ),
    "batch": click.option(
        "--batch", type=click.IntRange(min=1), default=1, show_default=True, help="Tiles per forward pass."
    ),
    "ensemble": click.option(
        "--ensemble",
        type=click.Choice(["1", "2", "4", "8"]),
        default=str(DEFAULT_ENSEMBLE),
        show_default=True,
        callback=lambda _ctx, _param, v: int(v),
        help="Self-ensemble: average the model over N flips/rotations of the input, N times the model's time. "
        "The default model on the validation suite, mean gain: 1 +1.45 dB, 2 +1.51, 4 +1.56, 8 +1.57; "
        "--ensemble 1 is about three times faster end to end.",
    ),
    "strength": click.option(
        "--strength",
        type=click.FloatRange(0, 2, min_open=True),
        default=1.0,
        show_default=True,
        help="How much of the model's change to keep: 1 its output, 0.5 halfway between the input and the output, "
        "above 1 stronger than the model (up to 2).",
    ),
    "compile_model": click.option(
        "--compile",
        "compile_model",
        is_flag=True,
        help="Run the PyTorch engine through torch.compile: about 80 s of compiling first, then ~1.3x faster per "
        'frame than OpenVINO bf16 here; pays on long jobs of one image size (README "Speed").',
    ),
}
MODEL_KEYS = ("model", "variant", "weights")
ENGINE_KEYS = (
    "device", "engine", "engine_dir", "precision", "threads", "tile", "overlap", "batch", "ensemble", "strength",
    "compile_model",
)  # fmt: skip


def options(*names: str) -> Callable[[Callable], Callable]:
    """The shared options ``names`` (keys of :data:`OPTIONS`), in that order in --help."""

    def decorate(f: Callable) -> Callable:
        for n in reversed(names):
            f = OPTIONS[n](f)
        return f

    return decorate


def inference_options(models: bool = True) -> Callable[[Callable], Callable]:
    """The model options (-m, --variant, --weights; left out with ``models=False``) and the engine options,
    collected into one :class:`InferenceOptions` passed to the command as ``inference``."""
    names = (MODEL_KEYS if models else ()) + ENGINE_KEYS

    def decorate(f: Callable) -> Callable:
        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            picked = {k: kwargs.pop(k) for k in names}
            return f(*args, inference=InferenceOptions(**picked), **kwargs)

        return options(*names)(wrapper)

    return decorate


def quiet_option(f: Callable) -> Callable:
    return click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")(f)


# Every option can also come from the environment, DEBLURCLI_<COMMAND>_<OPTION> (DEBLURCLI_FOLDER_ENSEMBLE=1), except
# those that replace files (--overwrite, --force), which must be typed.
@click.group(
    cls=DeblurGroup, context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "DEBLURCLI"}
)
@click.version_option(__version__, prog_name="deblurcli")
def main() -> None:
    """Remove motion blur from photos and videos with trained deep-learning models."""
    import logging

    # library warnings (e.g. "starting from a random backbone") as plain lines on stderr
    logging.basicConfig(format="deblurcli: %(message)s", level=logging.WARNING)
