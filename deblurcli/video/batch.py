"""Several videos in one job (``deblurcli video A B ...`` or a folder of videos), on any executor.

Each video runs the whole single-video pipeline (:func:`deblur_video`: audio, timestamps, colour, 10-bit,
resumable segments) and gives one result row; a bad video is reported and the others go on. ``--resume``
skips finished videos and continues unfinished ones, so a rerun after a crash of the driver or a worker
does only what is left.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..errors import DeblurError
from .policy import AlreadyComplete, VideoOptions, default_output

VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".ts", ".mts", ".mpg", ".mpeg")


def plan_videos(
    inputs: list[Path], output_dir: Path | None, codec: str = "libx264"
) -> tuple[list[tuple[Path, Path]], list[dict]]:
    """Every input video (folders expanded, hidden files left out) and its output: beside the input as
    NAME-deblurred.mp4, or ``output_dir``/NAME.mp4 (.mkv for ffv1, which MP4 cannot hold). Returns the jobs
    and the rows already failed."""
    ext = ".mkv" if codec == "ffv1" else ".mp4"
    videos: list[Path] = []
    for p in inputs:
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix.lower() in VIDEO_EXTS and not f.name.startswith("."))
            if not found:
                raise DeblurError(f"{p} is a folder with no videos ({', '.join(e.lstrip('.') for e in VIDEO_EXTS)})")
            videos += found
        elif p.exists():
            videos.append(p)
        else:
            raise DeblurError(f"{p}: no such file")
    if output_dir is not None and output_dir.exists() and not output_dir.is_dir():
        raise DeblurError(f"-o {output_dir}: with several videos, -o is a folder")
    jobs, failed, claimed = [], [], set()
    for src in videos:
        out = output_dir / f"{src.stem}{ext}" if output_dir is not None else default_output(src).with_suffix(ext)
        if out.resolve() in claimed:
            failed.append(row(src, out, "failed", error=f"its output name {out.name} is taken by another input"))
            continue
        claimed.add(out.resolve())
        jobs.append((src, out))
    return jobs, failed


def row(src: Path, out: Path, status: str, **facts: Any) -> dict:
    return {"input": str(src), "output": str(out), "status": status, "frames": 0, "seconds": 0.0, "error": None} | facts


def run_one(src: Path, out: Path, opts: VideoOptions, deblurrer: Any, model_id: str, resume: bool, overwrite: bool):
    """One video through the local pipeline; a result row, never an exception for a bad input."""
    from .io import probe
    from .stages import deblur_video

    t0 = time.perf_counter()
    try:
        info = probe(src)
        # deblur_video checks the paths (AlreadyComplete for a finished --resume) and the container first
        res = deblur_video(src, out, deblurrer.run, opts, model_id, resume=resume, overwrite=overwrite, info=info)
    except AlreadyComplete:
        return row(src, out, "skipped")
    except DeblurError as e:
        return row(src, out, "failed", error=str(e), seconds=time.perf_counter() - t0)
    status = "interrupted" if res.interrupted else "salvaged" if res.damage else "ok"
    return row(src, out, status, frames=res.frames, seconds=res.seconds, copied=res.copied_streams, error=res.damage)


def model_id(opened: Any) -> str:
    """What a video's resumable segments are tied to: the model, its weights, the tiling (fitted or exact) and
    the self-ensemble and the strength (a --resume with other settings is refused instead of mixing frames)."""
    from engines.ensemble import Ensemble

    loaded, d = opened.loaded, opened.deblurrer
    ens = f":ens{d.engine.n}" if isinstance(d.engine, Ensemble) else ""
    fit = "fit" if d.fit_tiles else ""
    strength = f":x{d.strength:g}" if d.strength != 1.0 else ""
    return f"{loaded.arch}:{loaded.variant}:{loaded.weights.name}:{d.tile}/{d.overlap}{fit}{ens}{strength}"
