"""``deblurcli video``: the CLI side of :mod:`deblurcli.video`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..catalog import VIDEO_CODECS
from ..inference import InferenceOptions
from .common import fail, handle_errors, inference_options, quiet_option
from .executor_options import executor_options


def _seconds(value: str | None, name: str) -> float | None:
    """``90``, ``1:30`` or ``0:01:30.5`` -> seconds."""
    if value is None:
        return None
    try:
        parts = [float(p) for p in value.split(":")]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a time (seconds, M:SS or H:MM:SS)", param_hint=name) from None
    if len(parts) > 3 or any(p < 0 for p in parts):
        raise click.BadParameter(f"{value!r} is not a time (seconds, M:SS or H:MM:SS)", param_hint=name)
    total = 0.0
    for p in parts:
        total = total * 60 + p
    return total


@click.command()
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Output file (default: INPUT-deblurred.mp4 beside INPUT); container from its extension. With several "
    "inputs or a folder: an output folder (NAME.mp4 in it).",
)
@click.option(
    "--codec",
    type=click.Choice(VIDEO_CODECS),
    default="libx264",
    show_default=True,
    help="Video encoder (ffv1 is lossless).",
)
@click.option(
    "--crf", type=click.IntRange(min=0, max=63), help="Constant quality (default: 18 x264, 20 x265, 30 AV1/VP9)."
)
@click.option("--preset", help="Encoder speed preset (x264/x265: ultrafast..veryslow; SVT-AV1: 0-13).")
@click.option("--pix-fmt", help="Output pixel format (default: the input's, or one as deep: 10-bit stays 10-bit).")
@click.option("--no-audio", is_flag=True, help="Leave out audio and subtitle streams (copied untouched otherwise).")
@click.option("--start", help="Start at this time (seconds, M:SS or H:MM:SS).")
@click.option("--duration", help="Process this long (seconds, M:SS or H:MM:SS).")
@click.option("--frames", "max_frames", type=click.IntRange(min=1), help="Stop after N frames (a quick preview).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run (finished segments are kept).")
@click.option("--overwrite", is_flag=True, allow_from_autoenv=False, help="Replace the output if it exists.")
@click.option(
    "--salvage",
    is_flag=True,
    help="A damaged input (undecodable packets, missing frames): write the frames that decode, say what was "
    "lost, exit 1 (default: refuse with exit 2).",
)
@inference_options()
@executor_options
@click.option(
    "--segment-seconds",
    type=click.FloatRange(min=0, min_open=True),
    metavar="S",
    help="With --executor ray: split each video at keyframes into parts of about S seconds, deblurred in "
    "parallel and joined with exact timestamps and the audio muxed once.",
)
@click.option(
    "--json",
    "json_report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a JSON summary (input facts, output, frames, seconds, fps; one row per video for several); "
    "- for standard output.",
)
@quiet_option
@handle_errors
def video(
    inputs: tuple[Path, ...],
    output: Path | None,
    resume: bool,
    overwrite: bool,
    inference: InferenceOptions,
    executor: Any,
    json_report: Path | None,
    quiet: bool,
    **o: Any,
) -> None:
    """Deblur every frame of a video; keep audio, timing, rotation and colour.

    Audio and subtitles are stream-copied, every frame keeps its timestamp
    (variable frame rate stays in sync), colour tags and rotation are carried
    over and 10-bit stays 10-bit. Ctrl-C stops cleanly; run again with
    --resume to continue. The input is never overwritten. Several inputs or
    a folder of videos make one job (a bad video is reported, the others go
    on); with --executor ray each video runs on a Ray worker.
    """
    from ..video import VideoOptions

    opts = VideoOptions(
        codec=o["codec"], crf=o["crf"], preset=o["preset"], pix_fmt=o["pix_fmt"], audio=not o["no_audio"],
        start=_seconds(o["start"], "--start"), duration=_seconds(o["duration"], "--duration"),
        max_frames=o["max_frames"], salvage=o["salvage"],
    )  # fmt: skip
    split = o["segment_seconds"]
    if split is not None and executor.name != "ray":
        raise click.UsageError("--segment-seconds needs --executor ray (one machine deblurs a video in order)")
    if split is not None and (opts.start is not None or opts.duration is not None or opts.max_frames is not None):
        raise click.UsageError("--segment-seconds splits whole videos: leave out --start, --duration and --frames")
    if len(inputs) > 1 or inputs[0].is_dir() or executor.name == "ray":
        from .video_many import many_videos

        return many_videos(
            list(inputs), output, opts, resume, overwrite, inference, executor, json_report, quiet, split
        )
    _one_video(inputs[0], output, opts, resume, overwrite, inference, json_report, quiet)


def _one_video(src, output, opts, resume, overwrite, inference, json_report, quiet) -> None:
    from .. import console
    from ..inference import open_deblurrer
    from ..video import AlreadyComplete, check_container, check_paths, deblur_video, default_output
    from ..video.batch import model_id as video_model_id
    from ..video.io import probe

    if not src.exists():
        raise fail(f"{src}: no such file")
    out = output / f"{src.stem}.mp4" if output is not None and output.is_dir() else output or default_output(src)
    info = probe(src)  # bad input fails here, before a model is loaded
    try:
        check_paths(src, out, resume, overwrite)
    except AlreadyComplete as e:
        if not quiet:
            console.err.print(str(e), soft_wrap=True)
        return
    check_container(out, opts.codec)
    opened = open_deblurrer(inference)
    loaded, eng, deblurrer = opened
    model_id = video_model_id(opened)
    if not quiet:
        console.err.print(
            f"{src.name}: {info.width}x{info.height} {info.codec} {info.pix_fmt}, {info.estimated_frames or '?'} "
            f"frames; [bold]{loaded.arch}[/] ({loaded.variant}), {eng.info.name} on {eng.info.device} -> {out}",
            soft_wrap=True,
        )
    with eng, console.frame_progress(quiet) as progress:
        bar = progress.add_task("deblurring", total=None)

        def on_frame(done: int, total: int | None) -> None:
            progress.update(bar, completed=done, total=total)

        res = deblur_video(
            src, out, deblurrer.run, opts, model_id, resume=resume, overwrite=overwrite, on_frame=on_frame, info=info
        )
    _finish(res, src, opts.codec, loaded, eng, inference, json_report, quiet)


def _finish(
    res: Any, src: Path, codec: str, loaded: Any, eng: Any, inference: Any, json_report: Path | None, quiet: bool
) -> None:
    """The JSON report, the last line, and the exit code: 130 interrupted, 1 salvaged, else 0."""
    from .. import console

    fps = (res.frames - res.resumed_frames) / res.seconds if res.seconds > 0 else 0.0
    if json_report:
        from ..images import write_json_atomic

        write_json_atomic(
            json_report,
            {
                "input": str(src),
                "output": str(res.output),
                "interrupted": res.interrupted,
                "frames": res.frames,
                "resumed_frames": res.resumed_frames,
                "seconds": round(res.seconds, 3),
                "model_seconds": round(res.model_seconds, 3),
                "fps": round(fps, 3),
                "pix_fmt": res.pix_fmt,
                "codec": codec,
                "copied_streams": res.copied_streams,
                "source": res.info.to_dict(),
                "model": loaded.arch,
                "variant": loaded.variant,
                "engine": eng.info.__dict__,
                **inference.settings(),
                "damage": res.damage,
            },
        )
    if res.interrupted:
        console.error(
            f"interrupted after {res.frames} frames in finished segments; "
            "run the same command with --resume to continue"
        )
        sys.exit(130)
    if not quiet:
        console.err.print(
            f"{res.frames} frames in {res.seconds:.1f} s ({fps:.2f} fps, model {res.model_seconds:.1f} s)"
            f"; {', '.join(res.copied_streams) or 'no other streams'} copied -> {res.output}",
            soft_wrap=True,
        )
    if res.damage:
        console.error(f"salvaged {src}: {res.damage}; wrote the {res.frames} frames that decode")
        sys.exit(1)
