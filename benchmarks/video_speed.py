"""End-to-end ``deblurcli video`` time against model-only time for the same 720p frames.

Builds a 1280x720 H.264 clip (with an AAC tone) from the real REDS frames in
``../shared/data``, then measures (1) the model alone on the decoded frames,
one after another, and (2) the whole job: decode, model and encode running
concurrently, segments, final remux. A ratio near 1 means decoding and
encoding hide behind inference. The model runs as ``deblurcli video`` runs it
by default (:func:`deblurcli.inference.open_deblurrer`: on a CPU OpenVINO,
bf16 where native, whole frames), warmed up on two full frames first (the
engine's build, when not cached, and its compile for the frame size).

    python benchmarks/video_speed.py [--model nafnet] [--variant small] [--weights W] [--frames 30] [--threads N]
                                     [--ensemble N] [--preset P]
--ensemble: the default's four turns unless given (1 = one pass); --preset: the encoder's, as `video --preset`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deblurcli.inference import DEFAULT_ENSEMBLE, InferenceOptions, open_deblurrer  # noqa: E402
from deblurcli.video import VideoOptions, deblur_video  # noqa: E402
from deblurcli.video.io import frame_to_planar, probe  # noqa: E402
from tests.video_clips import REDS_720, make_clip, reds_frames  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="nafnet")
    ap.add_argument("--variant", default=None)
    ap.add_argument("--weights", type=Path)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--ensemble", type=int, default=DEFAULT_ENSEMBLE, choices=(1, 2, 4, 8))
    ap.add_argument("--preset")
    args = ap.parse_args()
    opened = open_deblurrer(
        InferenceOptions(
            model=args.model, variant=args.variant, weights=args.weights, threads=args.threads, ensemble=args.ensemble
        )
    )
    loaded, eng, d = opened
    name = f"{loaded.arch}:{loaded.variant}"
    with tempfile.TemporaryDirectory() as tmp:
        frames = reds_frames(REDS_720, n=10)
        frames = (frames * (args.frames // len(frames) + 1))[: args.frames]
        clip = make_clip(Path(tmp) / "clip.mp4", frames, tone=True)
        info = probe(clip)
        import av

        with av.open(str(clip)) as c:
            planar = [frame_to_planar(f, info) for f in c.decode(video=0)]
        d.run(planar[0])  # warm-up: the dynamic graph, then the one compiled for this frame size
        d.run(planar[0])
        t0 = time.perf_counter()
        for x in planar:
            d.run(x)
        model_only = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = deblur_video(clip, Path(tmp) / "out.mp4", d.run, VideoOptions(preset=args.preset), name)
        end_to_end = time.perf_counter() - t0
    n = len(planar)
    print(
        json.dumps(
            {
                "model": name,
                "frames": n,
                "size": f"{info.width}x{info.height}",
                "engine": f"{eng.info.name} {eng.info.precision}",
                "threads": eng.info.threads,
                "ensemble": args.ensemble,
                "preset": args.preset or "the encoder's default",
                "model_only_s": round(model_only, 2),
                "end_to_end_s": round(end_to_end, 2),
                "end_to_end_over_model_only": round(end_to_end / model_only, 3),
                "model_s_inside_job": round(res.model_seconds, 2),
                "fps": round(n / end_to_end, 3),
                "model_only_fps": round(n / model_only, 3),
                "throughput_ratio": round(model_only / end_to_end, 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
