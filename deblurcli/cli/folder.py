"""``deblurcli folder``: every image in a folder, through :func:`deblurcli.folder.run_folder`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..catalog import IMAGE_FORMATS
from ..inference import InferenceOptions
from .common import handle_errors, inference_options, quiet_option
from .executor_options import executor_options


@click.command()
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Output folder (default: INPUT-deblurred beside a folder INPUT; NAME-deblurred.EXT beside each image "
    "INPUT). With one image INPUT, a path with an image extension is that image's output.",
)
@click.option("-r", "--recursive", is_flag=True, help="Also process subfolders, keeping the tree.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(IMAGE_FORMATS),
    default="same",
    show_default=True,
    help="Output format: the input's, or png / jpg.",
)
@click.option("--skip-existing", is_flag=True, help="Skip images whose output exists (resume a run).")
@click.option("--overwrite", is_flag=True, help="Replace outputs that already exist.")
@inference_options()
@executor_options
@click.option(
    "--json",
    "json_report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a JSON report (per file: input, output, size, seconds, status or error); - for standard output.",
)
@quiet_option
@handle_errors
def folder(
    inputs: tuple[Path, ...],
    output: Path | None,
    recursive: bool,
    fmt: str,
    skip_existing: bool,
    overwrite: bool,
    inference: InferenceOptions,
    executor: Any,
    json_report: Path | None,
    quiet: bool,
) -> None:
    """Deblur every image in the folder INPUT (png, jpg, bmp, tif, webp, heic) into another folder, or the image
    files INPUT... (each beside itself as NAME-deblurred.EXT, or into -o).

    Inputs are never modified; each output keeps the input's name, size, bit
    depth, alpha and grayscale (and, as JPEG, PNG or HEIC, its colour profile
    and EXIF, upright), and is written under a temporary name first.
    Unreadable files are reported and skipped. Exit code 1 if any file failed.
    With --executor ray the same job runs on a Ray cluster (README "Many machines").

    \b
      deblurcli folder ./imgs                   # -> ./imgs-deblurred/
      deblurcli folder photo.jpg                # -> photo-deblurred.jpg
      deblurcli folder photo.jpg -o sharp.png   # -> sharp.png (PNG)
      deblurcli folder *.jpg -o sharp/          # -> sharp/NAME.jpg
    """
    from ..folder import plan_folder, plan_images

    if skip_existing and overwrite:
        raise click.UsageError("--skip-existing and --overwrite exclude each other")
    if executor.name == "ray":
        from ..executor import require_ray

        require_ray()
    if len(inputs) == 1 and (inputs[0].is_dir() or not (inputs[0].exists() or inputs[0].is_symlink())):
        out_dir, tasks, decided = plan_folder(inputs[0], output, recursive, fmt, skip_existing, overwrite)
    else:
        if recursive:
            raise click.UsageError("--recursive applies to a folder INPUT, not to image files")
        out_dir, tasks, decided = plan_images(list(inputs), output, fmt, skip_existing, overwrite)
    if executor.name == "ray":
        from .folder_ray import folder_on_ray

        return folder_on_ray(tasks, decided, out_dir, inference, executor, json_report, quiet)
    _folder_local(tasks, decided, out_dir, inference, json_report, quiet)


def _folder_local(tasks, decided, out_dir, inference, json_report, quiet) -> None:
    from .. import console
    from ..folder import run_folder
    from ..inference import open_deblurrer
    from .common import fail

    loaded, eng, deblurrer = open_deblurrer(inference)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        eng.close()
        raise fail(f"cannot create output folder {out_dir}: {e.strerror or e}") from None
    for r in decided:
        if r.status == "failed":
            console.error(f"error: {r.input}: {r.error}")
    if not quiet:
        console.err.print(_header(loaded, eng, deblurrer, tasks, decided, out_dir))
    with eng, console.file_progress(quiet) as progress:
        bar = progress.add_task("deblurring", total=len(tasks), mp=0.0, current="")
        done_mp = [0.0]

        def on_done(r) -> None:
            done_mp[0] += r.megapixels
            progress.update(bar, advance=1, mp=done_mp[0])
            if r.status == "failed":
                console.error(f"error: {r.input}: {r.error}")

        report = run_folder(tasks, deblurrer, decided, lambda t: progress.update(bar, current=t.src.name), on_done)
    finish(report, loaded, {"engine": eng.info.__dict__}, out_dir, tasks, json_report, quiet)


def finish(report: Any, loaded: Any, how: dict, out_dir: Path, tasks: list, json_report: Path | None, quiet: bool):
    """The report, summary and exit code, whichever executor ran the job."""
    from .. import console

    if json_report:
        from ..images import write_json_atomic

        head = {"model": loaded.arch, "variant": loaded.variant, "weights": str(loaded.weights)}
        write_json_atomic(json_report, report.to_json(**head, **how, output=str(out_dir)))
    if not quiet:
        console.err.print(_summary(report))
    if report.interrupted:
        done = len(report.with_status("ok"))
        console.error(f"interrupted after {done} of {len(tasks)} images; run again with --skip-existing to resume")
    sys.exit(report.exit_code)


def _header(loaded: Any, eng: Any, deblurrer: Any, tasks: list, decided: list, out_dir: Path) -> str:
    info = eng.info
    tiles = (
        f"whole frames up to {deblurrer.frame_pixels / 1e6:.1f} MP, else tiles {deblurrer.tile}/{deblurrer.overlap}"
        if deblurrer.frame_pixels
        else f"tiles {deblurrer.tile}/{deblurrer.overlap}"
    )
    return (
        f"[bold]{loaded.arch}[/] ({loaded.variant}) from {loaded.weights.name}, {info.name} on {info.device} "
        f"{info.precision}, {tiles}; {len(tasks)} to do, {sum(r.status == 'skipped' for r in decided)} skipped "
        f"-> {out_dir}"
    )


def _summary(report: Any) -> Any:
    from .. import console

    ok = report.with_status("ok")
    mps, s = sum(r.megapixels for r in ok), report.seconds
    row = [
        len(ok),
        len(report.with_status("skipped")),
        len(report.with_status("failed")),
        f"{mps:.2f}",
        f"{s:.1f}",
        f"{mps / s if s > 0 else 0:.3f}",
    ]
    return console.table("summary", ["ok", "skipped", "failed", "megapixels", "seconds", "MP/s"], [row])
