"""SIGKILL at random moments (seeded), then resume: every visible output decodes, the final outputs equal an
uninterrupted run's, and no temporary is left after the resumed run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys

import cv2
import numpy as np
import pytest

from .conftest import DATA, ROOT
from .helpers import visible_files

pytestmark = pytest.mark.slow
KILLS = 6


def cli(*args):
    return [sys.executable, "-m", "deblurcli", *[str(a) for a in args]]


def kill_at(cmd, seconds):
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        p.wait(timeout=seconds)  # a run that ends first is not waited for
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGKILL)
        p.wait()


@pytest.fixture(scope="module")
def folder_in(tmp_path_factory):
    d = tmp_path_factory.mktemp("kin")
    rng = np.random.default_rng(0)
    for i, p in enumerate(sorted((DATA / "reds" / "blur").glob("*.png")) * 4):
        img = cv2.imread(str(p))
        y, x = int(rng.integers(0, img.shape[0] - 120)), int(rng.integers(0, img.shape[1] - 200))
        cv2.imwrite(str(d / f"img{i:02d}.png"), img[y : y + 120, x : x + 200])
    return d


def test_folder_job_survives_random_kills(folder_in, tiny_weights, tmp_path):
    ref = tmp_path / "ref"
    subprocess.run(cli("folder", folder_in, "-o", ref, "--weights", tiny_weights, "-q"), cwd=ROOT, check=True)
    out = tmp_path / "out"
    rng = random.Random(20)
    for _ in range(KILLS):
        kill_at(
            cli("folder", folder_in, "-o", out, "--weights", tiny_weights, "--skip-existing", "-q"),
            rng.uniform(1.0, 6.0),
        )
        for name in visible_files(out) if out.exists() else []:  # every visible output is complete
            assert cv2.imread(str(out / name)) is not None, name
    r = subprocess.run(
        cli("folder", folder_in, "-o", out, "--weights", tiny_weights, "--skip-existing", "-q"),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(out)) == sorted(os.listdir(ref))  # no temporary left, nothing missing
    for name in os.listdir(ref):
        assert np.array_equal(cv2.imread(str(out / name)), cv2.imread(str(ref / name))), name


def test_video_job_survives_random_kills(tiny_weights, tmp_path):
    import av

    from .video_clips import audio_packets, make_clip, reds_frames, video_pts

    src = make_clip(tmp_path / "in.mp4", reds_frames(n=10) * 3, tone=True)
    args = ["--weights", tiny_weights, "--engine", "torch", "-q"]
    ref = tmp_path / "ref.mp4"
    subprocess.run(cli("video", src, "-o", ref, *args), cwd=ROOT, check=True)
    out = tmp_path / "out.mp4"
    rng = random.Random(21)
    for _ in range(KILLS):
        kill_at(cli("video", src, "-o", out, "--resume", *args), rng.uniform(1.0, 8.0))
        if out.exists():  # a visible output is a complete one
            with av.open(str(out)) as c:
                assert sum(1 for _ in c.decode(video=0)) == 30
    r = subprocess.run(cli("video", src, "-o", out, "--resume", *args), cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert video_pts(out) == video_pts(ref)
    assert audio_packets(out) == audio_packets(ref)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "out.mp4", "ref.mp4"]
