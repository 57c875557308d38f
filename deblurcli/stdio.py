"""Images through pipes: ``deblurcli folder -`` reads one image from standard input and ``-o -`` writes one to
standard output, as Unix filters do (``convert - png:-`` in ImageMagick, ``pipe:`` in ffmpeg).

The image read from a pipe is kept in a private temporary folder under the name its bytes' format gives it, so it
goes through the same job as a file (its colour profile and EXIF included). While a job writes to standard output,
file descriptor 1 points at standard error: a library that prints (a native one included) cannot mix its text into
the image, which is sent whole, and only once its file was written completely.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import DeblurError
from .images import IMAGE_EXTS, image_extension

STDIO = Path("-")
STDIN_NAME = "stdin"


def read_stdin_image(folder: Path) -> Path:
    """Standard input, whole, as ``folder/stdin.EXT``; an empty or non-image stream is a one-line error."""
    data = sys.stdin.buffer.read()
    if not data:
        raise DeblurError("standard input is empty; pipe an image in, e.g. deblurcli folder - < photo.jpg")
    ext = image_extension(data)
    if ext is None:
        exts = ", ".join(e.lstrip(".") for e in IMAGE_EXTS if e not in (".jpeg", ".tiff", ".heif"))
        raise DeblurError(f"standard input is not an image in a format deblurcli reads ({exts})")
    path = folder / f"{STDIN_NAME}{ext}"
    try:
        path.write_bytes(data)
    except OSError as e:
        raise DeblurError(f"cannot keep the piped image in a temporary folder: {e.strerror or e}") from None
    return path


@contextmanager
def stdout_reserved() -> Iterator[int]:
    """Point file descriptor 1 at standard error for the block; yields a descriptor of the real standard output."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield saved
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def send_file(path: Path, fd: int) -> None:
    """Copy ``path`` to the descriptor ``fd``; a closed pipe (``| head``) is a one-line error."""
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
    except BrokenPipeError:
        raise DeblurError("standard output was closed before the image was written") from None
    except OSError as e:
        raise DeblurError(f"cannot write the image to standard output: {e.strerror or e}") from None
