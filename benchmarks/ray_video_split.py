"""One video, locally and on Ray, whole or split with ``--segment-seconds``: what splitting costs and buys.

The clip: ``--frames`` real 1280x720 REDS frames (``../shared/data/pairs/reds_train_000/blur``, played forth
and back) at 24 fps,
H.264 with a keyframe every 12 frames (0.5 s) and an AAC track. Each configuration is one ``deblurcli video``
process with the default model and options (start-up, a local Ray, the join included), timed end to end; the
outputs are checked to hold every frame. Pause other work first.

    python benchmarks/ray_video_split.py [--frames 48] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
REDS_720 = ROOT.parent / "shared/data/pairs/reds_train_000/blur"

CONFIGS = {
    "local (2 threads)": [],
    "ray, whole video, 1 worker x 2 CPUs": ["--executor", "ray", "--workers", "1", "--cpus-per-worker", "2"],
    "ray, 0.5 s parts, 1 worker x 2 CPUs": ["--executor", "ray", "--workers", "1", "--cpus-per-worker", "2",
                                            "--segment-seconds", "0.5"],
    "ray, 0.5 s parts, 2 workers x 1 CPU": ["--executor", "ray", "--workers", "2", "--cpus-per-worker", "1",
                                            "--segment-seconds", "0.5"],
}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    import cv2

    from tests.video_clips import make_clip, video_pts

    work = Path(tempfile.mkdtemp(prefix="ray-video-"))
    clip_frames = [cv2.imread(str(f))[:, :, ::-1].copy() for f in sorted(REDS_720.glob("*.png"))]
    clip_frames += clip_frames[::-1]  # played forth and back, as long as asked
    frames = [clip_frames[i % len(clip_frames)] for i in range(args.frames)]
    clip = make_clip(work / "clip.mp4", frames, tone=True, gop=12)
    want = video_pts(clip)
    subprocess.run(["deblurcli", "video", str(clip), "-o", str(work / "warm.mp4"), "--frames", "2", "-q"], check=True)
    rows = {}
    for name, extra in CONFIGS.items():
        out = work / f"out{len(rows)}.mp4"
        t0 = time.perf_counter()
        subprocess.run(["deblurcli", "video", str(clip), "-o", str(out), "-q", *extra], check=True)
        seconds = time.perf_counter() - t0
        assert video_pts(out) == want, name
        rows[name] = {"seconds": round(seconds, 2), "fps": round(len(want) / seconds, 3)}
    base = rows["local (2 threads)"]["seconds"]
    print(f"{len(want)} frames of 1280x720, default model and options, one process per run (start-up included)")
    print(f"{'configuration':40} {'seconds':>8} {'fps':>6} {'vs local':>8}")
    for name, r in rows.items():
        r["vs_local"] = round(r["seconds"] / base, 3)
        print(f"{name:40} {r['seconds']:8.2f} {r['fps']:6.2f} {r['vs_local']:7.2f}x")
    if args.json:
        args.json.write_text(json.dumps({"frames": len(want), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
