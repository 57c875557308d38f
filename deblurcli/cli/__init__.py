"""Command-line interface: one small module per command over a library call.

Each module defines its command; here they are added to the group
explicitly (no registration by import side effect). Importing this package
imports neither torch nor OpenCV, so ``--help`` and ``--version`` are quick.
"""

from __future__ import annotations

from .build_engine import build_engine
from .common import fail, handle_errors, main
from .convert import convert
from .evaluate import eval_
from .folder import folder
from .models import models
from .synth import synth
from .train import train
from .video import video

for _command in (folder, video, models, convert, build_engine, train, synth, eval_):
    main.add_command(_command)

__all__ = ["fail", "handle_errors", "main"]
