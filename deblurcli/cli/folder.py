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
    "INPUT). With one image INPUT, a path with an image extension is that image's output, and - is standard "
    "output.",
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
@click.option("--overwrite", is_flag=True, allow_from_autoenv=False, help="Replace outputs that already exist.")
@click.option(
    "-n",
    "--dry-run",
    is_flag=True,
    help="Print what the job would do (write, replace, skip, refuse: one line per image) and stop; nothing is "
    "loaded, read or written.",
)
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
    dry_run: bool,
    inference: InferenceOptions,
    executor: Any,
    json_report: Path | None,
    quiet: bool,
) -> None:
    """Deblur every image in the folder INPUT (png, jpg, bmp, tif, webp, heic) into another folder, or the image
    files INPUT... (each beside itself as NAME-deblurred.EXT, or into -o). INPUT - reads one image from standard
    input and -o - writes one to standard output.

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
      deblurcli folder - < in.jpg > sharp.jpg   # a pipe in, a pipe out
    """
    from ..folder import plan_folder, plan_images
    from ..stdio import STDIO

    if skip_existing and overwrite:
        raise click.UsageError("--skip-existing and --overwrite exclude each other")
    if dry_run and (STDIO in inputs or output == STDIO or json_report):
        raise click.UsageError("--dry-run plans a job on files: leave out '-' and --json")
    if STDIO in inputs or output == STDIO:
        from .folder_piped import folder_piped

        return folder_piped(
            inputs, output, fmt, recursive, skip_existing, overwrite, inference, executor, json_report, quiet
        )
    if executor.name == "ray" and not dry_run:  # a dry run plans the same job without starting Ray
        from ..executor import require_ray

        require_ray()
    if len(inputs) == 1 and (inputs[0].is_dir() or not (inputs[0].exists() or inputs[0].is_symlink())):
        out_dir, tasks, decided = plan_folder(
            inputs[0], output, recursive, fmt, skip_existing, overwrite, clean=not dry_run
        )
    else:
        if recursive:
            raise click.UsageError("--recursive applies to a folder INPUT, not to image files")
        out_dir, tasks, decided = plan_images(list(inputs), output, fmt, skip_existing, overwrite, clean=not dry_run)
    if dry_run:
        return _print_plan(tasks, decided, out_dir)
    if executor.name == "ray":
        from .folder_ray import folder_on_ray

        return folder_on_ray(tasks, decided, out_dir, inference, executor, json_report, quiet)
    finish(*_folder_local(tasks, decided, out_dir, inference, quiet), out_dir, tasks, json_report, quiet)


def _print_plan(tasks: list, decided: list, out_dir: Path) -> None:
    """A dry run: one tab-separated line per image on stdout (ACTION, INPUT, OUTPUT[, reason]), the tally on
    stderr; exit 1 where the run would fail a file, as the run would."""
    from .. import console

    rows = [("replace" if t.dst.exists() else "write", str(t.src), str(t.dst), "") for t in tasks]
    rows += [("skip" if r.status == "skipped" else "refuse", r.input, r.output, r.error or "") for r in decided]
    for row in sorted(rows, key=lambda r: r[1]):
        click.echo("\t".join(row).rstrip("\t"))
    refused = sum(r.status == "failed" for r in decided)
    console.err.print(
        f"dry run: {len(tasks)} to deblur into {out_dir}, {len(decided) - refused} skipped, {refused} refused; "
        "nothing read or written",
        soft_wrap=True,
    )
    sys.exit(1 if refused else 0)


def _folder_local(tasks, decided, out_dir, inference, quiet, names=None) -> tuple[Any, Any, dict]:
    """Run the job here; ``names`` relabels paths in messages and the report (a pipe's temporary files as -)."""
    from .. import console
    from ..folder import run_folder
    from ..inference import open_deblurrer
    from .common import fail

    names = names or {}
    loaded, eng, deblurrer = open_deblurrer(inference)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        eng.close()
        raise fail(f"cannot create output folder {out_dir}: {e.strerror or e}") from None
    for r in decided:
        r.input, r.output = names.get(r.input, r.input), names.get(r.output, r.output)
        if r.status == "failed":
            console.error(f"error: {r.input}: {r.error}")
    if not quiet:
        where = "standard output" if tasks and names.get(str(tasks[0].dst)) == "-" else out_dir
        console.err.print(_header(loaded, eng, deblurrer, tasks, decided, where))
    with eng, console.file_progress(quiet) as progress:
        bar = progress.add_task("deblurring", total=len(tasks), mp=0.0, current="")
        done_mp = [0.0]

        def on_done(r) -> None:
            r.input, r.output = names.get(r.input, r.input), names.get(r.output, r.output)
            done_mp[0] += r.megapixels
            progress.update(bar, advance=1, mp=done_mp[0])
            if r.status == "failed":
                console.error(f"error: {r.input}: {r.error}")

        report = run_folder(tasks, deblurrer, decided, lambda t: progress.update(bar, current=t.src.name), on_done)
    return report, loaded, {"engine": eng.info.__dict__, **inference.settings()}


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


def _header(loaded: Any, eng: Any, deblurrer: Any, tasks: list, decided: list, out_dir: Path | str) -> str:
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
