"""The same folder job with the local executor and on Ray: Ray's start-up cost and its per-image overhead.

The folder: ``--images`` real 320x180 REDS frames from ``../shared/data/pairs/reds_small``. The default model
and options (as ``deblurcli folder`` with no options). Each executor runs through the library calls the CLI
uses, timing every file's completion:

* local: :func:`deblurcli.folder.run_folder` in this process (model already loaded);
* ray: :func:`deblurcli.ray_jobs.run_folder_ray` on a local Ray (``--workers`` actors of
  ``--cpus-per-worker``), and on a simulated 2-node cluster (``ray.cluster_utils.Cluster``, one CPU each).

Each executor runs the folder of N images and a folder of 2N (the same frames twice); the per-image time is
(T(2N) - T(N)) / N and the fixed start-up cost T(N) - N x per-image (Ray: actors started and the model loaded
in each; local: the model loaded), which batching of results cannot bias. Pause other work first.

    python benchmarks/ray_speed.py [--images 40] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REDS_SMALL = ROOT.parent / "shared/data/pairs/reds_small"


def make_folder(n: int) -> Path:
    d = Path(tempfile.mkdtemp(prefix="ray-speed-")) / "in"
    d.mkdir()
    frames = sorted(REDS_SMALL.glob("*/blur/*.png"))
    if not frames:
        raise SystemExit(f"no frames under {REDS_SMALL}")
    for i in range(n):
        shutil.copy(frames[i % len(frames)], d / f"{i:03d}.png")
    return d


def two_point(run, n: int) -> dict:
    """``run(k)`` -> seconds for a folder of k images; per-image and start-up from k = n and 2n."""
    t1, t2 = run(n), run(2 * n)
    per = (t2 - t1) / n
    return {"total_s": round(t1, 3), "startup_s": round(t1 - n * per, 3), "per_image_s": round(per, 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=60)
    ap.add_argument("--batch-files", type=int, default=4, help="files per Ray task (deblurcli's default: 4)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    import ray

    from deblurcli.executor import ExecutorOptions
    from deblurcli.folder import plan_folder, run_folder
    from deblurcli.inference import InferenceOptions, open_deblurrer
    from deblurcli.ray_jobs import run_folder_ray

    n = args.images
    folders = {k: make_folder(k) for k in (n, 2 * n)}
    inference = InferenceOptions()
    counter = iter(range(10**6))

    def tasks_for(k):
        src = folders[k]
        return plan_folder(src, src.parent / f"out{next(counter)}")[1]

    def local(k):
        t0 = time.perf_counter()
        with open_deblurrer(inference) as opened:
            report = run_folder(tasks_for(k), opened.deblurrer)
        assert not report.with_status("failed")
        return time.perf_counter() - t0

    folders[4] = make_folder(4)
    local(4)  # warm-up: the engine cache, the page cache

    def on_ray(ex):
        def go(k):
            t0 = time.perf_counter()
            report = run_folder_ray(tasks_for(k), inference, ex)
            assert not report.with_status("failed") and len(report.results) == k
            return time.perf_counter() - t0

        return go

    rows = {"local (2 threads)": two_point(local, n)}
    configs = [("ray, 1 worker x 2 CPUs", (1, 1), 2.0), ("ray, 2 workers x 1 CPU", (2, 2), 1.0)]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    for name, workers, cpus in configs:
        ex = ExecutorOptions(name="ray", workers=workers, cpus_per_worker=cpus, batch_files=args.batch_files)
        on_ray(ex)(4)  # warm-up
        rows[name] = two_point(on_ray(ex), n)
    ray.shutdown()

    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False)
    ex = ExecutorOptions(name="ray", workers=(2, 2), cpus_per_worker=1.0, batch_files=args.batch_files)
    on_ray(ex)(4)
    rows["simulated 2-node cluster, 2 workers x 1 CPU"] = two_point(on_ray(ex), n)
    ray.shutdown()
    cluster.shutdown()

    base = rows["local (2 threads)"]["per_image_s"]
    print(f"{args.images} real 320x180 frames, default model and options, {args.batch_files} files per Ray task")
    print(f"{'executor':46} {'start-up s':>10} {'s/image':>8} {'vs local':>8} {'N images s':>10}")
    for name, r in rows.items():
        r["per_image_vs_local"] = round(r["per_image_s"] / base, 3)
        print(
            f"{name:46} {r['startup_s']:10.2f} {r['per_image_s']:8.4f} {r['per_image_vs_local']:7.2f}x "
            f"{r['total_s']:10.2f}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    for d in folders.values():
        shutil.rmtree(d.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
