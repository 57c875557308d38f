"""``--executor`` and the Ray options shared by ``folder`` and ``video``, collected into one ExecutorOptions."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from ..errors import DeblurError
from ..executor import EXECUTORS, ExecutorOptions

_OPTIONS = [
    click.option(
        "--executor",
        type=click.Choice(EXECUTORS),
        default="local",
        show_default=True,
        help="Where the job runs: this process, or a Ray cluster (pip install 'deblurcli[ray]'; README "
        '"Many machines").',
    ),
    click.option(
        "--ray-address",
        metavar="ADDR",
        help="Ray cluster to join (default: $RAY_ADDRESS, else a local Ray started for the job).",
    ),
    click.option(
        "--workers",
        metavar="N|MIN:MAX",
        help="Ray actors, each loading the model once (default: as many as the cluster holds, one CPU left free).",
    ),
    click.option(
        "--gpus-per-worker",
        type=click.FloatRange(min=0),
        default=0.0,
        show_default=True,
        help="GPUs per Ray actor (1 = one actor per GPU).",
    ),
    click.option(
        "--cpus-per-worker",
        type=click.FloatRange(min=0.1),
        default=1.0,
        show_default=True,
        help="CPUs per Ray actor (its engine's threads).",
    ),
    click.option(
        "--batch-files",
        type=click.IntRange(min=1),
        default=4,
        show_default=True,
        help="Files per Ray task.",
    ),
]
_KEYS = ["executor", "ray_address", "workers", "gpus_per_worker", "cpus_per_worker", "batch_files"]


def executor_options(f: Callable) -> Callable:
    """Adds the options; the command receives ``executor: ExecutorOptions``."""
    from ..executor import parse_workers

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        v = {k: kwargs.pop(k) for k in _KEYS}
        try:
            workers = parse_workers(v["workers"])
        except DeblurError as e:
            raise click.UsageError(str(e)) from None
        ex = ExecutorOptions(
            name=v["executor"],
            address=v["ray_address"],
            workers=workers,
            gpus_per_worker=v["gpus_per_worker"],
            cpus_per_worker=v["cpus_per_worker"],
            batch_files=v["batch_files"],
        )
        return f(*args, executor=ex, **kwargs)

    for opt in reversed(_OPTIONS):
        wrapper = opt(wrapper)
    return wrapper
