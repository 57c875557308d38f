"""``deblurcli video A B ...`` / ``video FOLDER``: several videos in one job, locally or on Ray."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def many_videos(
    inputs: list[Path],
    output: Path | None,
    opts: Any,
    resume: bool,
    overwrite: bool,
    inference: Any,
    executor: Any,
    json_report: Path | None,
    quiet: bool,
    segment_seconds: float | None = None,
) -> None:
    from .. import console
    from ..video.batch import plan_videos

    if executor.name == "ray":
        from ..executor import require_ray

        require_ray()
    rows: list[dict] = []
    if len(inputs) == 1 and inputs[0].is_file() and output is not None and not output.is_dir():
        jobs = [(inputs[0], output)]  # one video (on Ray): -o names the file, as it does locally
    else:
        jobs, rows = plan_videos(inputs, output, opts.codec)
        if output is not None:
            output.mkdir(parents=True, exist_ok=True)
    plans = None
    if segment_seconds is not None:
        from ..video.split import plan_split

        plans, decided = plan_split(jobs, opts, segment_seconds, resume, overwrite)
        rows += decided
        jobs = [(src, out) for src, out, _, _ in plans]
    for r in rows:
        if r["status"] == "failed":
            console.error(f"error: {r['input']}: {r['error']}")
    with console.file_progress(quiet) as progress:
        bar = progress.add_task("videos", total=len(jobs), mp=0.0, current="")

        def on_done(r: dict) -> None:
            progress.update(bar, advance=1, current=Path(r["input"]).name)
            if r["status"] in ("failed", "salvaged"):
                console.error(f"error: {r['input']}: {r['error']}")

        job = {"video": opts.__dict__, "resume": resume, "overwrite": overwrite}
        if plans is not None:
            from ..ray_jobs import run_video_parts_ray

            rows += run_video_parts_ray(plans, inference, executor, job, on_done)
        elif executor.name == "ray":
            from ..ray_jobs import run_videos_ray

            rows += run_videos_ray(jobs, inference, executor, job, on_done)
        else:
            rows += _local(jobs, opts, resume, overwrite, inference, on_done)
    _finish(rows, inference.settings(), json_report, quiet)


def _local(jobs: list, opts: Any, resume: bool, overwrite: bool, inference: Any, on_done) -> list[dict]:
    from ..inference import open_deblurrer
    from ..video.batch import model_id, run_one

    rows = []
    with open_deblurrer(inference) as opened:
        for src, out in jobs:
            r = run_one(src, out, opts, opened.deblurrer, model_id(opened), resume, overwrite)
            rows.append(r)
            on_done(r)
            if r["status"] == "interrupted":
                break
    return rows


def _finish(rows: list[dict], settings: dict, json_report: Path | None, quiet: bool) -> None:
    from .. import console

    if json_report:
        from ..images import write_json_atomic

        write_json_atomic(json_report, {**settings, "videos": rows})
    count = {s: sum(r["status"] == s for r in rows) for s in ("ok", "skipped", "salvaged", "failed", "interrupted")}
    if not quiet:
        frames = sum(r["frames"] for r in rows)
        console.err.print(console.table("videos", [*count, "frames"], [[*count.values(), frames]]))
    if count["interrupted"]:
        console.error("interrupted; run the same command with --resume to continue")
        sys.exit(130)
    sys.exit(1 if count["failed"] or count["salvaged"] else 0)
