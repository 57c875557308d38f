"""``deblurcli folder -`` and ``-o -``: one image through a pipe, run here by the folder job (:mod:`deblurcli.stdio`)."""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import click

from ..errors import DeblurError


def folder_piped(inputs, output, fmt, recursive, skip_existing, overwrite, inference, executor, json_report, quiet):
    """One image from standard input, or to standard output, or both (:mod:`deblurcli.stdio`)."""
    from ..folder import _ext, _names_a_file, plan_images
    from ..stdio import STDIO, read_stdin_image, send_file, stdout_reserved
    from .folder import _folder_local, finish

    src = inputs[0]
    to_stdout = output == STDIO or (src == STDIO and output is None)
    if executor.name == "ray":
        raise click.UsageError("--executor ray works on files; standard input and output ('-') run here")
    if len(inputs) > 1:
        raise click.UsageError("'-' stands for one image: give one INPUT (standard input, or one file with -o -)")
    if recursive:
        raise click.UsageError("--recursive applies to a folder INPUT, not to standard input or output")
    if to_stdout and json_report == STDIO:
        raise click.UsageError("--json - would mix the report into the image on standard output; give --json FILE")
    if to_stdout and sys.stdout is None:
        raise click.UsageError("standard output is closed: give -o FILE")
    if src == STDIO and sys.stdin is None:
        raise click.UsageError("standard input is closed: pipe an image in (- < photo.jpg) or name a file")
    if to_stdout and sys.stdout.isatty():
        raise click.UsageError("refusing to write image data to a terminal: redirect it (> sharp.png) or give -o FILE")
    if src == STDIO and sys.stdin.isatty():
        raise click.UsageError("no image on standard input (a terminal): pipe one in (- < photo.jpg) or name a file")
    if src == STDIO and not to_stdout and not _names_a_file(output):
        raise click.UsageError(f"-o {output}: with standard input, -o names the output image (NAME.png, ...) or -")
    try:
        scratch = tempfile.TemporaryDirectory(prefix="deblurcli-")
    except OSError as e:
        raise DeblurError(f"cannot create a temporary folder for the piped image: {e.strerror or e}") from None
    with scratch as tmp:
        src = read_stdin_image(Path(tmp)) if src == STDIO else src
        if to_stdout:
            out_file = Path(tmp) / f"stdout{_ext(src, fmt)}"
            out_dir, tasks, decided = plan_images([src], out_file, fmt)
        else:
            out_dir, tasks, decided = plan_images([src], output, fmt, skip_existing, overwrite)
        names = {str(src): "-"} if inputs[0] == STDIO else {}
        if to_stdout:
            names[str(out_file)] = "-"
        with stdout_reserved() if to_stdout else _no_fd() as fd:
            report, loaded, how = _folder_local(tasks, decided, out_dir, inference, quiet, names)
            if to_stdout and report.exit_code == 0:
                try:
                    send_file(out_file, fd)
                except DeblurError as e:  # deblurred, but not delivered: that file failed
                    from .. import console

                    report.results[-1].status, report.results[-1].error = "failed", str(e)
                    console.error(f"error: {report.results[-1].input}: {e}")
    finish(report, loaded, how, STDIO if to_stdout else out_dir, tasks, json_report, quiet)


@contextlib.contextmanager
def _no_fd() -> Iterator[None]:
    yield None
