"""``--executor ray``: the same outputs, tree, report and exit codes as the local executor, on a local Ray
(one per test session, 2 CPUs, workers of 1 CPU), and a clear line where Ray is missing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import time

import cv2
import numpy as np
import pytest

from .conftest import DATA
from .helpers import one_line_error, run, visible_files


@pytest.fixture(scope="session")
def local_ray():
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def tree(tmp_path):
    """Real frames in a folder with a subfolder (320x180 REDS crops), for a recursive job."""
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    frames = sorted((DATA / "reds" / "blur").glob("*.png")) + sorted((DATA / "reds" / "sharp").glob("*.png"))
    for i, p in enumerate(frames):
        img = cv2.imread(str(p))
        cv2.imwrite(str(d / ("sub" if i % 2 else ".") / f"f{i}.png"), img[:96, :160])
    cv2.imwrite(str(d / "sub" / "f9.jpg"), img[:90, :120], [cv2.IMWRITE_JPEG_QUALITY, 92])
    return d


def job(src, out, weights, *extra):
    return ["folder", src, "-o", out, "-r", "--weights", weights, "--engine", "torch", "--threads", "1", *extra]


def report_rows(path):
    """A JSON report's per-file rows without timings, outputs relative to the job's output folder."""
    doc = json.loads(path.read_text())
    keep = ("input", "status", "width", "height", "bytes", "error")
    return [{**{k: f[k] for k in keep}, "output": os.path.relpath(f["output"], doc["output"])} for f in doc["files"]]


def test_ray_equals_local_pixels_tree_and_report(local_ray, tree, tmp_path, tiny_weights):
    a, b = tmp_path / "local", tmp_path / "ray"
    r = run(*job(tree, a, tiny_weights, "--json", tmp_path / "a.json", "-q"))
    assert r.exit_code == 0, r.output
    r = run(*job(tree, b, tiny_weights, "--json", tmp_path / "b.json", "-q", "--executor", "ray", "--batch-files", "2"))
    assert r.exit_code == 0, r.output
    assert visible_files(a) == visible_files(b) and len(visible_files(b)) == 5
    for name in visible_files(a):
        assert np.array_equal(cv2.imread(str(a / name), -1), cv2.imread(str(b / name), -1)), name
    assert report_rows(tmp_path / "a.json") == report_rows(tmp_path / "b.json")
    doc = json.loads((tmp_path / "b.json").read_text())
    assert doc["executor"]["name"] == "ray" and (doc["ensemble"], doc["strength"]) == (4, 1.0)


def test_ray_bad_file_exit_1_others_written_then_skip_existing_resumes(local_ray, tree, tmp_path, tiny_weights):
    (tree / "broken.png").write_bytes(b"not a png at all")
    out = tmp_path / "out"
    r = run(*job(tree, out, tiny_weights, "--executor", "ray", "-q"))
    assert r.exit_code == 1
    assert "broken.png" in r.output
    assert len(visible_files(out)) == 5
    (out / "f0.png").unlink()
    before = {n: (out / n).stat().st_mtime_ns for n in visible_files(out)}
    r = run(*job(tree, out, tiny_weights, "--executor", "ray", "--skip-existing", "--json", tmp_path / "r.json", "-q"))
    assert r.exit_code == 1  # the broken file is still broken
    files = {os.path.basename(f["input"]): f["status"] for f in json.loads((tmp_path / "r.json").read_text())["files"]}
    assert files["f0.png"] == "ok" and files["broken.png"] == "failed"
    assert sum(s == "skipped" for s in files.values()) == 4
    assert all((out / n).stat().st_mtime_ns == t for n, t in before.items())


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_every_output_is_written_once(local_ray, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    img = cv2.imread(str(sorted((DATA / "reds" / "blur").glob("*.png"))[0]))
    for i in range(16):
        cv2.imwrite(str(src / f"{i:02d}.png"), np.roll(img, 7 * i, axis=1))
    out = tmp_path / "out"
    result = {}
    args = ["folder", src, "-o", out, "--engine", "torch", "--executor", "ray", "--batch-files", "1", "-q"]
    args += ["--json", tmp_path / "r.json"]
    t = threading.Thread(target=lambda: result.setdefault("r", run(*args)))
    t.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and t.is_alive():
        if out.exists() and len(visible_files(out)) >= 2:
            killed = _kill_one_worker()
        time.sleep(0.05)
    t.join(300)
    assert killed, "no worker process was found to kill"
    r = result["r"]
    assert r.exit_code == 0, r.output
    assert visible_files(out) == sorted(f"{i:02d}.png" for i in range(16))  # no temporaries left, none missing
    files = json.loads((tmp_path / "r.json").read_text())["files"]
    assert sorted(os.path.basename(f["input"]) for f in files) == sorted(f"{i:02d}.png" for i in range(16))
    assert all(f["status"] == "ok" for f in files)
    for n in visible_files(out):
        assert cv2.imread(str(out / n)) is not None


def _kill_one_worker(worker: str = "FolderWorker"):
    """SIGKILL the first Ray actor process running ``worker`` (Ray names its processes ray::...)."""
    from pathlib import Path

    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if worker in cmd and "ray::" in cmd:
            os.kill(int(proc.name), signal.SIGKILL)
            return int(proc.name)
    return None


def test_executor_ray_without_ray_is_one_line_exit_2(tmp_path, tiny_weights, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(sorted((DATA / "reds" / "blur").glob("*.png"))[0], src / "a.png")
    r = run("folder", src, "-o", tmp_path / "out", "--weights", tiny_weights, "--executor", "ray")
    assert r.exit_code == 2
    assert "pip install 'deblurcli[ray]'" in one_line_error(r)
    assert not (tmp_path / "out").exists()


def test_workers_option_is_checked(tmp_path, tiny_weights):
    r = run("folder", DATA / "reds" / "blur", "-o", tmp_path / "o", "--executor", "ray", "--workers", "3:1")
    assert r.exit_code == 2 and "MIN <= MAX" in r.output


@pytest.fixture
def two_videos(tmp_path):
    from .video_clips import make_clip, reds_frames

    d = tmp_path / "videos"
    d.mkdir()
    frames = reds_frames(n=6)
    make_clip(d / "a.mp4", frames, tone=True)
    make_clip(d / "b.mkv", [f[::-1].copy() for f in frames], tone=True, rate=25)
    return d


def test_videos_on_ray_match_local_frames_and_audio(local_ray, two_videos, tmp_path, tiny_weights):
    from .video_clips import audio_packets, decoded_rgb, video_pts

    # ffv1 (lossless): libx264's threaded encoder is not bit-reproducible from one encode to the next here,
    # so only a lossless codec shows that the frames themselves are identical
    args = ["video", two_videos, "--weights", tiny_weights, "--engine", "torch", "--threads", "1", "-q"]
    args += ["--codec", "ffv1"]
    r = run(*args, "-o", tmp_path / "local", "--json", tmp_path / "l.json")
    assert r.exit_code == 0, r.output
    r = run(*args, "-o", tmp_path / "ray", "--executor", "ray", "--json", tmp_path / "r.json")
    assert r.exit_code == 0, r.output
    assert visible_files(tmp_path / "ray") == ["a.mkv", "b.mkv"] == visible_files(tmp_path / "local")
    for name in ("a.mkv", "b.mkv"):
        a, b = tmp_path / "local" / name, tmp_path / "ray" / name
        assert all(np.array_equal(x, y) for x, y in zip(decoded_rgb(a), decoded_rgb(b), strict=True)), name
        assert video_pts(a) == video_pts(b)
        assert audio_packets(a) == audio_packets(b) and audio_packets(b), name
    rows = json.loads((tmp_path / "r.json").read_text())["videos"]
    assert [(os.path.basename(x["input"]), x["status"], x["frames"]) for x in rows] == [
        ("a.mp4", "ok", 6),
        ("b.mkv", "ok", 6),
    ]
    # a rerun with --resume skips what is finished
    r = run(*args, "-o", tmp_path / "ray", "--executor", "ray", "--resume", "--json", tmp_path / "r2.json")
    assert r.exit_code == 0, r.output
    assert {x["status"] for x in json.loads((tmp_path / "r2.json").read_text())["videos"]} == {"skipped"}


def test_several_videos_locally_a_bad_one_is_reported_and_the_rest_go_on(two_videos, tmp_path, tiny_weights):
    (two_videos / "c.mp4").write_text("not a video\n")
    r = run("video", two_videos, "-o", tmp_path / "out", "--weights", tiny_weights, "--engine", "torch", "-q")
    assert r.exit_code == 1
    assert "c.mp4" in r.output
    assert visible_files(tmp_path / "out") == ["a.mp4", "b.mp4"]


@pytest.fixture
def long_clip(tmp_path):
    """20 real frames at 24 fps, a keyframe every 6 (0.25 s), with a 440 Hz AAC track."""
    from .video_clips import make_clip, reds_frames

    frames = reds_frames(n=10)
    return make_clip(tmp_path / "long.mp4", frames + frames[::-1], tone=True, gop=6)


def test_parts_are_planned_at_keyframes(long_clip):
    from deblurcli.video.io import probe
    from deblurcli.video.split import Part, keyframe_pts, plan_parts

    info = probe(long_clip)
    keys = keyframe_pts(long_clip)
    assert len(keys) == 4
    assert plan_parts(long_clip, info, 0.25) == [Part(0, None, keys[1]), Part(1, keys[1], keys[2]),
                                                 Part(2, keys[2], keys[3]), Part(3, keys[3], None)]  # fmt: skip
    assert plan_parts(long_clip, info, 0.3) == [Part(0, None, keys[2]), Part(1, keys[2], None)]
    assert plan_parts(long_clip, info, 60) == [Part(0, None, None)]


def test_segment_seconds_on_ray_matches_local_and_resumes_finished_parts(local_ray, long_clip, tmp_path, tiny_weights):
    from deblurcli.inference import InferenceOptions, open_deblurrer
    from deblurcli.video.batch import model_id
    from deblurcli.video.io import probe
    from deblurcli.video.policy import VideoOptions
    from deblurcli.video.split import deblur_part, plan_parts

    from .video_clips import audio_packets, decoded_rgb, video_pts

    args = [long_clip, "--weights", tiny_weights, "--engine", "torch", "--threads", "1", "-q", "--codec", "ffv1"]
    local, split = tmp_path / "local.mkv", tmp_path / "split.mkv"
    assert run("video", *args, "-o", local).exit_code == 0
    r = run(
        "video", *args, "-o", split, "--executor", "ray", "--segment-seconds", "0.25", "--json", tmp_path / "r.json"
    )
    assert r.exit_code == 0, r.output
    assert visible_files(tmp_path) == ["local.mkv", "long.mp4", "r.json", "split.mkv"]  # work folder gone
    want, got = decoded_rgb(local), decoded_rgb(split)
    assert len(want) == 20 and all(np.array_equal(x, y) for x, y in zip(want, got, strict=True))
    assert video_pts(split) == video_pts(local)
    assert audio_packets(split) == audio_packets(local) and audio_packets(split)  # the audio muxed once
    (row,) = json.loads((tmp_path / "r.json").read_text())["videos"]
    assert (row["status"], row["frames"], row["parts"]) == ("ok", 20, 4)

    # a crash after part 0 finished: a rerun with --resume keeps it (here written by an identity "model",
    # so it shows in the output) and deblurs only the other parts
    again = tmp_path / "again.mkv"
    opts = VideoOptions(codec="ffv1")
    inference = InferenceOptions(weights=tiny_weights, engine="torch", threads=1)
    with open_deblurrer(inference) as opened:
        mid = model_id(opened)
    part0 = plan_parts(long_clip, probe(long_clip), 0.25)[0]
    facts = deblur_part(long_clip, again, part0, lambda rgb: rgb, opts, mid, probe(long_clip))
    assert facts["frames"] == 6
    r = run("video", *args, "-o", again, "--executor", "ray", "--segment-seconds", "0.25", "--resume")
    assert r.exit_code == 0, r.output
    got = decoded_rgb(again)
    assert not any(np.array_equal(x, y) for x, y in zip(got[:6], want[:6]))
    assert all(np.array_equal(x, y) for x, y in zip(got[6:], want[6:], strict=True))
    assert video_pts(again) == video_pts(local)


def test_a_worker_killed_mid_video_leaves_the_parts_to_another(local_ray, tmp_path):
    from .video_clips import audio_packets, decoded_rgb, make_clip, reds_frames, video_pts

    frames = reds_frames(n=10)
    clip = make_clip(tmp_path / "clip.mp4", (frames + frames[::-1]) * 2, tone=True, gop=6)
    args = [clip, "--engine", "torch", "--threads", "1", "--ensemble", "1", "-q", "--codec", "ffv1"]
    local, split = tmp_path / "local.mkv", tmp_path / "split.mkv"
    assert run("video", *args, "-o", local).exit_code == 0
    result = {}
    split_args = [*args, "-o", split, "--executor", "ray", "--segment-seconds", "0.2", "--json", tmp_path / "r.json"]
    t = threading.Thread(target=lambda: result.setdefault("r", run("video", *split_args)))
    t.start()
    killed = None
    first = tmp_path / ".split.mkv.parts" / "part0000" / "manifest.json"
    deadline = time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and t.is_alive():
        if first.exists() and "complete" in first.read_text():
            killed = _kill_one_worker("VideoWorker")
        time.sleep(0.02)
    t.join(300)
    assert killed, "no worker process was found to kill"
    r = result["r"]
    assert r.exit_code == 0, r.output
    (row,) = json.loads((tmp_path / "r.json").read_text())["videos"]
    assert row["status"] == "ok" and row["frames"] == 40 and row["parts"] > 2
    want, got = decoded_rgb(local), decoded_rgb(split)
    assert all(np.array_equal(x, y) for x, y in zip(want, got, strict=True))
    assert video_pts(split) == video_pts(local) and audio_packets(split) == audio_packets(local)
    assert not (tmp_path / ".split.mkv.parts").exists()


def test_segment_seconds_needs_ray_and_a_whole_video(long_clip, tmp_path, tiny_weights):
    r = run("video", long_clip, "-o", tmp_path / "o.mp4", "--weights", tiny_weights, "--segment-seconds", "5")
    assert r.exit_code == 2 and "Error: --segment-seconds needs --executor ray" in r.output
    r = run(
        "video", long_clip, "--weights", tiny_weights, "--executor", "ray", "--segment-seconds", "5", "--frames", "3"
    )
    assert r.exit_code == 2 and "leave out --start, --duration and --frames" in r.output
    assert not (tmp_path / "o.mp4").exists()
