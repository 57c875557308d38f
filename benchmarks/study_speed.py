"""Seconds per real 1280x720 frame on this CPU for each of the study's five models, with its fastest back end.

For each model, :mod:`benchmarks.cpu_backends` times OpenVINO bf16 and PyTorch bf16 channels-last on the
whole frame (allocator tuned, best of ``--repeat``) in a fresh process; the faster verified path is kept
(OpenVINO cannot export Uptimus's window attention, so Uptimus runs on PyTorch). Output: ``--json`` with one
row per model, read by ``trainers/recipes/study_table.py``. Pause other work first.

    python benchmarks/study_speed.py MODEL=WEIGHTS... [--repeat 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["openvino-bf16-frame", "torch-bf16-cl-frame"]


def time_model(model: str, weights: Path, repeat: int) -> dict:
    cmd = [sys.executable, str(ROOT / "benchmarks/cpu_backends.py"), "--child", "--tuned", "--repeat", str(repeat)]
    cmd += ["--model", model, "--weights", str(weights), "--paths", *PATHS]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if out.returncode:
        sys.exit(out.stderr)
    rows = [r for r in json.loads(out.stdout.strip().splitlines()[-1])["rows"] if "seconds" in r]
    best = min(rows, key=lambda r: r["seconds"])
    return {"model": model, "path": best["path"], "seconds": best["seconds"], "all": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="MODEL=WEIGHTS")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rows = []
    for spec in args.models:
        model, weights = spec.split("=", 1)
        r = time_model(model, Path(weights), args.repeat)
        print(f"{model:16} {r['path']:22} {r['seconds']:7.3f} s per 720p frame", flush=True)
        rows.append(r)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
