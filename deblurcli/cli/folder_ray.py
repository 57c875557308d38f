"""``deblurcli folder --executor ray``: the driver's side (plan, progress, report) of :mod:`deblurcli.ray_jobs`."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def folder_on_ray(
    tasks: list, decided: list, out_dir: Path, inference: Any, executor: Any, json_report: Path | None, quiet: bool
) -> None:
    from .. import console
    from ..loading import load_model
    from ..ray_jobs import connect, pool_size, run_folder_ray
    from .common import fail
    from .folder import finish

    loaded = load_model(inference.model, inference.variant, inference.weights)  # bad weights fail here, once
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise fail(f"cannot create output folder {out_dir}: {e.strerror or e}") from None
    for r in decided:
        if r.status == "failed":
            console.error(f"error: {r.input}: {r.error}")
    ray = connect(executor)
    lo, hi = pool_size(ray, executor)
    where = f"{executor.cpus_per_worker:g} CPU" + (
        f", {executor.gpus_per_worker:g} GPU" if executor.gpus_per_worker else ""
    )
    if not quiet:
        console.err.print(
            f"[bold]{loaded.arch}[/] ({loaded.variant}) from {loaded.weights.name} on Ray: {lo}-{hi} workers of "
            f"{where} each, {executor.batch_files} files per task; {len(tasks)} to do, "
            f"{sum(r.status == 'skipped' for r in decided)} skipped -> {out_dir}"
        )
    with console.file_progress(quiet) as progress:
        bar = progress.add_task("deblurring", total=len(tasks), mp=0.0, current="")
        done_mp = [0.0]

        def on_done(r) -> None:
            done_mp[0] += r.megapixels
            progress.update(bar, advance=1, mp=done_mp[0], current=Path(r.input).name)
            if r.status == "failed":
                console.error(f"error: {r.input}: {r.error}")

        report = run_folder_ray(tasks, inference, executor, decided, on_done)
    how = {
        "executor": {
            "name": "ray",
            "workers": [lo, hi],
            "cpus_per_worker": executor.cpus_per_worker,
            "gpus_per_worker": executor.gpus_per_worker,
            "batch_files": executor.batch_files,
        },
        **inference.settings(),
    }
    finish(report, loaded, how, out_dir, tasks, json_report, quiet)
