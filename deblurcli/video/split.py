"""Long videos in parts (``--segment-seconds``): split at keyframes, deblurred in parallel, joined exactly.

The plan reads only the container's packet index (no decoding): a part starts at a keyframe at least S
seconds after the previous part's start and holds the frames with ``lo <= pts < hi``. Each part is decoded
from its own keyframe (a seek) and encoded into numbered segments in its own folder of the video's work folder
(``.NAME.parts/partNNNN/``), resumable like the single-machine pipeline, and marked complete in its manifest.
When every part is complete, the driver joins their segments' packets in order, each frame on the timestamp it
was decoded with, and muxes the input's audio and subtitles once (:func:`.remux.assemble`), so the output is
the one the single-machine pipeline writes, cut into more encoder segments.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DeblurError
from .decode import DecodeReport, damage
from .io import VideoError, VideoInfo, open_input
from .policy import VideoOptions, choose_pix_fmt, work_dir
from .remux import assemble
from .segments import Manifest, SegmentWriter, fingerprint


@dataclass(frozen=True)
class Part:
    """Frames with ``lo <= pts < hi`` of the video stream; ``lo`` is a keyframe's pts, None: from the start."""

    index: int
    lo: int | None
    hi: int | None


def keyframe_pts(src: Path) -> list[int]:
    """The video stream's keyframe timestamps, from the packet index (nothing is decoded)."""
    import av

    c = open_input(src)
    try:
        vs = c.streams.video[0]
        return sorted({p.pts for p in c.demux(vs) if p.is_keyframe and p.pts is not None})
    except av.FFmpegError as e:
        raise VideoError(f"{src}: cannot read the packet index ({str(e).splitlines()[0]})") from None
    finally:
        c.close()


def plan_parts(src: Path, info: VideoInfo, seconds: float) -> list[Part]:
    """Cut at the first keyframe at least ``seconds`` after the previous cut; one part if there is none."""
    cuts: list[int] = []
    last = None
    for k in keyframe_pts(src):
        if last is None or float((k - last) * info.time_base) >= seconds - 1e-9:
            if last is not None:
                cuts.append(k)
            last = k
    bounds: list[int | None] = [None, *cuts, None]
    return [Part(i, bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def part_dir(output: Path, index: int) -> Path:
    return work_dir(output) / f"part{index:04d}"


def _fingerprint(src: Path, opts: VideoOptions, model_id: str, part: Part) -> str:
    return f"{fingerprint(src, opts, model_id)}:{part.lo}:{part.hi}"


def deblur_part(
    src: Path, output: Path, part: Part, run_model: Any, opts: VideoOptions, model_id: str, info: VideoInfo
) -> dict[str, Any]:
    """Deblur one part into its folder (resuming its finished segments); what its decoder met. A part already
    complete (a retried task, a rerun) is not decoded again."""
    from .stages import _Stages

    d = part_dir(output, part.index)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VideoError(f"cannot write beside {output}: {e.strerror or e}") from None
    manifest = Manifest.load(d / "manifest.json", _fingerprint(src, opts, model_id, part))
    if manifest.complete is not None:
        return manifest.complete
    pix_fmt = choose_pix_fmt(opts.codec, info, opts.pix_fmt)
    job = _Stages(src, info, opts, manifest, SegmentWriter(d, manifest, info, opts, pix_fmt), run_model, None,
                  span=(part.lo, part.hi))  # fmt: skip
    job.run()
    if job.interrupted:
        raise KeyboardInterrupt
    facts = {
        "frames": job.decoded.frames,
        "errors": job.decoded.errors,
        "first_error": job.decoded.first_error,
        "model_seconds": job.model_s,
    }
    manifest.mark_complete(facts)
    return facts


def run_part(src: Path, out: Path, part: Part, opts: VideoOptions, deblurrer: Any, model_id: str) -> dict:
    """One part on a worker: a result row (status ok/failed), never an exception for a bad input."""
    from .io import probe

    t0 = time.perf_counter()
    row = {"status": "ok", "error": None, "model_id": model_id}
    try:
        row |= deblur_part(src, out, part, deblurrer.run, opts, model_id, probe(src))
    except DeblurError as e:
        row |= {"status": "failed", "error": str(e)}
    return row | {"seconds": time.perf_counter() - t0}


def join_parts(
    src: Path, output: Path, parts: list[Part], facts: list[dict], info: VideoInfo, opts: VideoOptions, model_id: str
) -> tuple[int, list[str], str | None]:
    """Every part complete: the output, as :func:`.stages.deblur_video` writes it. Returns (frames, copied
    streams, damage). A damaged input (summed over the parts) is refused unless ``opts.salvage``."""
    report = DecodeReport(frames=sum(f["frames"] for f in facts), errors=sum(f["errors"] for f in facts))
    report.first_error = next((f["first_error"] for f in facts if f["first_error"]), None)
    found = damage(report, info, opts)
    if found and not opts.salvage:
        shutil.rmtree(work_dir(output), ignore_errors=True)
        raise VideoError(f"{src}: damaged video, {found}; nothing written (--salvage keeps what decodes)")
    merged = Manifest(work_dir(output) / "manifest.json", fingerprint(src, opts, model_id))
    for p in parts:
        m = Manifest.load(part_dir(output, p.index) / "manifest.json", _fingerprint(src, opts, model_id, p))
        merged.segments += [dict(s, file=f"{part_dir(output, p.index).name}/{s['file']}") for s in m.segments]
    if not merged.segments:
        shutil.rmtree(work_dir(output), ignore_errors=True)
        raise VideoError(f"{src}: no frames to write")
    copied = assemble(src, output, work_dir(output), merged, info, opts, merged.segments[0]["first_pts"])
    shutil.rmtree(work_dir(output), ignore_errors=True)
    return merged.done_frames, copied, found


def plan_split(
    jobs: list[tuple[Path, Path]], opts: VideoOptions, seconds: float, resume: bool, overwrite: bool
) -> tuple[list[tuple[Path, Path, VideoInfo, list[Part]]], list[dict]]:
    """The driver's side: each video's paths, container and pixel format checked as the single-machine
    pipeline does, then its parts. Returns the planned videos and the rows already decided (skipped: complete
    under --resume; failed)."""
    from .batch import row
    from .io import probe
    from .policy import AlreadyComplete, check_container, check_paths

    plans, decided = [], []
    for src, out in jobs:
        try:
            info = probe(src)
            check_paths(src, out, resume, overwrite)
            check_container(out, opts.codec)
            choose_pix_fmt(opts.codec, info, opts.pix_fmt)
            plans.append((src, out, info, plan_parts(src, info, seconds)))
        except AlreadyComplete:
            decided.append(row(src, out, "skipped"))
        except DeblurError as e:
            decided.append(row(src, out, "failed", error=str(e)))
    return plans, decided


def finish_video(plan: tuple[Path, Path, VideoInfo, list[Part]], results: list[dict], opts: VideoOptions) -> dict:
    """Every part of one video has a result: its row, after joining the parts if all succeeded. A failed part
    fails the video and keeps the finished parts for --resume."""
    from .batch import row

    src, out, info, parts = plan
    seconds = max(r["seconds"] for r in results)
    bad = next((r for r in results if r["status"] != "ok"), None)
    if bad is not None:
        return row(src, out, "failed", error=bad["error"], seconds=seconds)
    t0 = time.perf_counter()
    try:
        frames, copied, found = join_parts(src, out, parts, results, info, opts, results[0]["model_id"])
    except DeblurError as e:
        return row(src, out, "failed", error=str(e), seconds=seconds)
    seconds += time.perf_counter() - t0
    status = "salvaged" if found else "ok"
    return row(src, out, status, frames=frames, seconds=seconds, copied=copied, error=found, parts=len(parts))
