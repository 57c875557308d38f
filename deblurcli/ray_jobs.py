"""Folder and video jobs on a Ray cluster, through Ray Data (imported only on this path).

The driver plans the job exactly as the local executor does (names, tree, ``--skip-existing``,
``--overwrite``, refusals), then builds a dataset of tasks (``ray.data.from_items``) and maps it with
:class:`FolderWorker`/:class:`VideoWorker`, a callable class run by an ``ActorPoolStrategy``: each actor opens
the model once with the same options the local path uses and writes its outputs itself, each under a
temporary name renamed when complete. The driver streams each file's result row back into the usual
progress bar, summary, ``--json`` report and exit code. An actor whose process dies is restarted and its
batch retried (``max_restarts``/``max_task_retries``); since outputs appear only complete, under their final
name, a retried file is written once. Actors claim ``--cpus-per-worker`` each and, unless ``--workers``
says otherwise, leave one CPU of the cluster for Ray Data's own tasks (ray-project/ray#44687).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

from .errors import DeblurError
from .executor import ExecutorOptions, require_ray
from .folder import FileResult, FolderReport, Task, process_file
from .inference import InferenceOptions

_RESULT_FIELDS = [f.name for f in fields(FileResult)]


def connect(ex: ExecutorOptions) -> Any:
    """Join ``--ray-address``, else ``RAY_ADDRESS``, else start a local Ray for this job (or reuse this
    process's, e.g. a test session's)."""
    ray = require_ray()
    for name in ("ray", "ray.data"):  # deblurcli reports progress and errors itself
        logging.getLogger(name).setLevel(logging.ERROR)
    if not ray.is_initialized():
        address = ex.address or os.environ.get("RAY_ADDRESS") or None
        try:
            ray.init(
                address=address,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                ignore_reinit_error=True,
            )
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise DeblurError(f"cannot reach Ray at {address or 'a new local Ray'}: {str(e).splitlines()[0]}") from None
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # deblurcli draws its own
    ctx.print_on_execution_start = False
    return ray


def pool_size(ray: Any, ex: ExecutorOptions) -> tuple[int, int]:
    """(min, max) actors: --workers, else as many as the cluster holds, one CPU left for Ray Data."""
    if ex.workers:
        return ex.workers
    res = ray.cluster_resources()
    if ex.gpus_per_worker > 0:
        most = int(res.get("GPU", 0) // ex.gpus_per_worker)
        if most < 1:
            raise DeblurError(f"--gpus-per-worker {ex.gpus_per_worker:g}: the Ray cluster has no free GPU")
    else:
        most = int(max(1.0, res.get("CPU", 1) - 1) // ex.cpus_per_worker)
    return 1, max(1, most)


class _Worker:
    """One actor: opens the model once (the local path's options, threads = its CPU share)."""

    options: dict[str, Any] = {}  # set on a per-job subclass: {"inference": ..., "job": ...}

    def __init__(self) -> None:
        from .atomic import set_job_tag
        from .inference import open_deblurrer

        if self.options.get("tag"):  # its temporaries carry the job's tag: the driver removes a killed one's
            set_job_tag(self.options["tag"])
        self.opened = open_deblurrer(InferenceOptions(**self.options["inference"]))
        self.job = self.options.get("job", {})

    def __del__(self) -> None:
        opened = getattr(self, "opened", None)
        if opened is not None:
            opened.close()


class FolderWorker(_Worker):
    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        rows = []
        for i, src, dst in zip(batch["index"], batch["src"], batch["dst"]):
            r = process_file(Task(Path(str(src)), Path(str(dst))), self.opened.deblurrer)
            rows.append(json.dumps({"index": int(i), **asdict(r)}))
        return {"result": rows}


class VideoWorker(_Worker):
    """A whole video (the local pipeline), or one part of a split one (``part``: a JSON :class:`Part`)."""

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        from .video.batch import model_id, run_one
        from .video.policy import VideoOptions
        from .video.split import Part, run_part

        opts, o = VideoOptions(**self.job["video"]), self.opened
        rows = []
        for i, src, dst, part in zip(batch["index"], batch["src"], batch["dst"], batch["part"]):
            src, dst = Path(str(src)), Path(str(dst))
            if part:
                r = run_part(src, dst, Part(**json.loads(str(part))), opts, o.deblurrer, model_id(o))
            else:
                r = run_one(src, dst, opts, o.deblurrer, model_id(o), self.job["resume"], self.job["overwrite"])
            rows.append(json.dumps({"index": int(i), **r}))
        return {"result": rows}


def run_videos_ray(
    jobs: list[tuple[Path, Path]],
    inference: InferenceOptions,
    ex: ExecutorOptions,
    job: dict[str, Any],
    on_done: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Each video one Ray task running the local video pipeline on a worker; rows in input order."""
    items = [{"index": i, "src": str(s), "dst": str(d), "part": ""} for i, (s, d) in enumerate(jobs)]
    rows, interrupted = _collect(items, VideoWorker, inference, replace(ex, batch_files=1), job, lambda r: r, on_done)
    if interrupted:
        raise KeyboardInterrupt  # the CLI's Ctrl-C: exit 130, and --resume continues
    return rows


def run_video_parts_ray(
    plans: list, inference: InferenceOptions, ex: ExecutorOptions, job: dict[str, Any], on_done=None
) -> list[dict]:
    """``--segment-seconds``: every part of every planned video (:func:`~deblurcli.video.split.plan_split`) one
    Ray task; a video is joined by the driver as soon as its last part is back. Rows in input order."""
    from .video.policy import VideoOptions
    from .video.split import finish_video

    opts = VideoOptions(**job["video"])
    items: list[dict] = []
    owner: list[int] = []
    for v, (src, dst, _, parts) in enumerate(plans):
        for p in parts:
            owner.append(v)
            items.append({"index": len(items), "src": str(src), "dst": str(dst), "part": json.dumps(asdict(p))})
    results: dict[int, dict[int, dict]] = {v: {} for v in range(len(plans))}
    rows: dict[int, dict] = {}

    def on_part(r: dict) -> None:
        v = owner[r["index"]]
        results[v][r["index"]] = r
        if len(results[v]) == len(plans[v][3]):
            rows[v] = finish_video(plans[v], [results[v][k] for k in sorted(results[v])], opts)
            if on_done:
                on_done(rows[v])

    _, interrupted = _collect(items, VideoWorker, inference, replace(ex, batch_files=1), job, None, on_part)
    if interrupted:
        raise KeyboardInterrupt
    return [rows[v] for v in sorted(rows)]


def _collect(
    items: list[dict], worker: type, inference: InferenceOptions, ex: ExecutorOptions, job: dict | None, make, on_done
) -> tuple[list, bool]:
    """Run ``items`` (dicts with ``index``, ``src``, ``dst``) through ``worker`` on Ray; each result row made by
    ``make`` (None: the raw row, its index kept) and passed to ``on_done`` as it arrives. Returns the rows in
    item order and whether Ctrl-C stopped the job. Once every item is done, the temporaries that workers killed
    mid-write left beside the outputs are removed (a killed worker's item is retried on another)."""
    import secrets

    from .atomic import clean_job

    ray = connect(ex)
    tag = secrets.token_hex(4)
    done: dict[int, Any] = {}
    interrupted = False
    try:
        for row in _map(ray, items, worker, inference, ex, job, tag):
            i = row["index"] if make is None else row.pop("index")
            done[i] = row if make is None else make(row)
            if on_done:
                on_done(done[i])
    except KeyboardInterrupt:
        interrupted = True
    except ray.exceptions.RayError as e:
        raise DeblurError(f"the Ray job failed: {_first_line(e)}") from None
    if not interrupted:
        for folder in sorted({Path(it["dst"]).parent for it in items}):
            clean_job(folder, tag)
    return [done[i] for i in sorted(done)], interrupted


def _map(
    ray: Any,
    items: list[dict],
    worker: type,
    inference: InferenceOptions,
    ex: ExecutorOptions,
    job: dict | None,
    tag: str,
) -> Iterator:
    lo, hi = pool_size(ray, ex)
    options = {
        "inference": asdict(replace(inference, threads=inference.threads or ex.threads)),
        "job": job or {},
        "tag": tag,
    }
    ds = ray.data.from_items(items, override_num_blocks=max(1, len(items)))
    job_worker = type(worker.__name__, (worker,), {"options": options})
    ds = ds.map_batches(
        job_worker,
        batch_size=ex.batch_files,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(min_size=min(lo, len(items)), max_size=max(1, min(hi, len(items)))),
        num_cpus=ex.cpus_per_worker,
        num_gpus=ex.gpus_per_worker or None,
    )  # Ray Data restarts a dead actor and retries its batch by default (max_restarts=-1, max_task_retries=-1)
    for row in ds.iter_rows():
        yield json.loads(row["result"])


def run_folder_ray(
    tasks: list[Task],
    inference: InferenceOptions,
    ex: ExecutorOptions,
    decided: list[FileResult] | None = None,
    on_done: Callable[[FileResult], None] | None = None,
) -> FolderReport:
    """:func:`deblurcli.folder.run_folder` on Ray: the same results, in the same order, the same report."""
    import time

    report = FolderReport(list(decided or []))
    if not tasks:
        return report
    t0 = time.perf_counter()
    items = [{"index": i, "src": str(t.src), "dst": str(t.dst)} for i, t in enumerate(tasks)]
    rows, report.interrupted = _collect(
        items, FolderWorker, inference, ex, None, lambda row: FileResult(**{k: row[k] for k in _RESULT_FIELDS}), on_done
    )
    report.results += rows
    report.seconds = time.perf_counter() - t0
    return report


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    errors = [ln for ln in lines if "Error:" in ln]
    return (errors[-1] if errors else lines[0] if lines else type(e).__name__)[:300]
