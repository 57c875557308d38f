"""trainers.synth and `deblurcli synth`: pairs carry what they declare."""

import json

import cv2
import numpy as np
import pytest

from trainers.camera import boost_highlights, convolve, decode, encode
from trainers.synth import (
    blur_with_kernel,
    centre_kernel,
    linear_to_srgb,
    psnr_u8,
    random_kernel,
    srgb_to_linear,
    to_uint8,
)
from trainers.synth_video import average_frames

from .conftest import DATA, SHARED
from .helpers import one_line_error, run

VIDEO = SHARED / "data" / "videos" / "gopro240_GOPR0477_11_00.mkv"


def rgb(path):
    return cv2.imread(str(path), cv2.IMREAD_COLOR)[:, :, ::-1].copy()


def test_srgb_curve_round_trips():
    x = np.linspace(0, 1, 1001)
    assert np.allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-9)
    assert srgb_to_linear(np.array([0.5]))[0] == pytest.approx(0.2140, abs=1e-4)


def test_trajectory_kernels_are_valid():
    rng = np.random.default_rng(0)
    sizes = set()
    for _ in range(30):
        k = random_kernel(rng, 7, 65)
        assert k.ndim == 2 and k.shape[0] == k.shape[1] and k.shape[0] % 2 == 1 and 7 <= k.shape[0] <= 65
        assert k.min() >= 0 and k.sum() == pytest.approx(1.0, abs=1e-6)
        assert (k > 0).sum() > 1  # a path, not a delta
        sizes.add(k.shape[0])
    assert len(sizes) > 10


def test_linear_light_averaging_differs_from_naive():
    a = np.zeros((4, 4, 3), np.uint8)
    b = np.full((4, 4, 3), 255, np.uint8)
    # half black, half white in linear light is sRGB 188, not 128
    assert average_frames([a, b])[0, 0, 0] == 188


def test_plain_shake_pairs_carry_their_kernel(tmp_path):
    out = tmp_path / "shake"
    r = run(
        "synth",
        DATA / "photos",
        out,
        "--per-image",
        "2",
        "--kernels",
        SHARED / "data" / "kernels",
        "--real-fraction",
        "0.5",
        "--noise",
        "0",
        "--plain",
        "--seed",
        "4",
        "--kernel-size",
        "15-41",
    )
    assert r.exit_code == 0, r.output
    meta = json.loads((out / "pairs.json").read_text())
    assert meta["seed"] == 4 and len(meta["pairs"]) == 6
    assert {p["kernel_source"].split(":")[0] for p in meta["pairs"]} <= {"real", "trajectory"}
    for p in meta["pairs"]:
        sharp = rgb(out / p["group"] / "sharp" / p["name"])
        blur = rgb(out / p["group"] / "blur" / p["name"])
        k = np.load(out / p["kernel"])
        again = to_uint8(linear_to_srgb(blur_with_kernel(sharp, k)))
        assert np.abs(again.astype(int) - blur.astype(int)).max() <= 1, p["name"]
        # really blurred (USRNet's kernel 1 is a tiny Gaussian, so only changed for real kernels)
        assert psnr_u8(blur, sharp) < (50 if p["kernel_source"] == "trajectory" else 80)


def centre_of_mass(k):
    ys, xs = np.mgrid[: k.shape[0], : k.shape[1]]
    return (k * ys).sum() / k.sum() - (k.shape[0] - 1) / 2, (k * xs).sum() / k.sum() - (k.shape[1] - 1) / 2


def test_measured_kernels_are_centred_by_mass():
    """Levin et al.'s k6 is stored 3.3 and 2.9 px off centre: centred, it blurs in place; a centred kernel is kept."""
    levin = np.load(SHARED / "data" / "kernels" / "levin09_k6.npy")
    assert np.hypot(*centre_of_mass(levin)) > 4
    for k in (levin, np.rot90(levin), np.pad(np.ones((1, 5)), ((2, 6), (7, 0)))):
        c = centre_kernel(k)
        assert c.shape[0] == c.shape[1] and c.shape[0] % 2 == 1 and c.min() >= 0
        assert c.sum() == pytest.approx(1.0) and np.allclose(centre_of_mass(c), 0, atol=1e-9)
        assert (c > 1e-12).sum() <= 2 * (k > 0).sum() + 2 * k.shape[0]  # moved, not smeared
    box = np.zeros((7, 7))
    box[2:5, 2:5] = 1 / 9
    assert np.array_equal(centre_kernel(box), box)


@pytest.mark.parametrize("offset", ["centre", "keep"])
def test_an_off_centre_kernel_blurs_in_place_unless_kept(tmp_path, offset):
    """A single off-centre dot is a pure shift: centred (the default), the "blurry" image is the sharp one;
    kept as stored, it is the sharp image moved 2 and 3 px (in the quarter turn synth drew for it)."""
    kdir = tmp_path / "k"
    kdir.mkdir()
    dot = np.zeros((11, 11))
    dot[7, 8] = 1
    np.save(kdir / "dot.npy", dot)
    out = tmp_path / "o"
    r = run("synth", DATA / "photos", out, "--kernels", kdir, "--real-fraction", "1", "--noise", "0", "--plain",
            "--per-image", "1", "--limit", "1", "--kernel-offset", offset)  # fmt: skip
    assert r.exit_code == 0, r.output
    meta = json.loads((out / "pairs.json").read_text())
    assert meta["kernel_offset"] == offset
    p = meta["pairs"][0]
    sharp, blur = (rgb(out / p["group"] / kind / p["name"]).astype(int) for kind in ("sharp", "blur"))
    if offset == "centre":
        assert np.abs(blur - sharp).max() <= 1
    else:
        (dy,), (dx,) = np.nonzero(np.load(out / p["kernel"]))
        dy, dx = dy - 5, dx - 5
        assert sorted((abs(dy), abs(dx))) == [2, 3]
        moved = np.roll(sharp, (dy, dx), axis=(0, 1))
        assert np.abs(blur - moved)[5:-5, 5:-5].max() <= 1 and np.abs(blur - sharp).max() > 50


def test_camera_model_records_what_it_drew(tmp_path):
    """Highlights, tone curve and rotation are drawn per pair and recorded; pairs without rotation are the
    recorded kernel applied through the recorded camera, exactly."""
    out = tmp_path / "shake"
    r = run(
        "synth",
        DATA / "photos",
        out,
        "--per-image",
        "6",
        "--noise",
        "0",
        "--highlights",
        "0.7",
        "--rotation",
        "0.5",
        "--kernel-size",
        "9-31",
        "--seed",
        "2",
    )
    assert r.exit_code == 0, r.output
    pairs = json.loads((out / "pairs.json").read_text())["pairs"]
    assert any(p["rotation_deg"] != 0 for p in pairs) and any(p["highlight_gain"] > 1 for p in pairs)
    assert any(p["gamma"] != "srgb" for p in pairs) and any(p["gamma"] == "srgb" for p in pairs)
    checked = 0
    for p in pairs:
        sharp = rgb(out / p["group"] / "sharp" / p["name"])
        blur = rgb(out / p["group"] / "blur" / p["name"])
        assert (blur != sharp).any()
        if p["rotation_deg"]:
            continue
        gamma = None if p["gamma"] == "srgb" else p["gamma"]
        lin = (
            boost_highlights(decode(sharp, gamma), p["highlight_gain"])
            if p["highlight_gain"] > 1
            else decode(sharp, gamma)
        )
        again = encode(convolve(lin, np.load(out / p["kernel"])), gamma)
        assert np.abs(again.astype(int) - blur.astype(int)).max() <= 1, p["name"]
        checked += 1
    assert checked >= 3


def test_saturated_highlights_smear_into_clipped_streaks():
    """A point light brighter than white, blurred, stays white along its path instead of fading to grey."""
    img = np.zeros((41, 41, 3), np.uint8)
    img[20, 20] = 255
    k = np.zeros((9, 9))
    k[4, :] = 1 / 9  # horizontal 9 px
    plain = encode(convolve(decode(img, None), k), None)
    hot = encode(convolve(boost_highlights(decode(img, None), 12.0), k), None)
    assert plain[20, 18, 0] < 120 and hot[20, 18, 0] == 255


def test_average_both_ways_makes_gopro_blur_and_blur_gamma():
    a = np.zeros((4, 4, 3), np.uint8)
    b = np.full((4, 4, 3), 255, np.uint8)
    assert average_frames([a, b], linear=True)[0, 0, 0] == 188  # blur_gamma
    assert average_frames([a, b], linear=False)[0, 0, 0] == 128  # blur


def test_synth_include_exclude_splits_bsds(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for n in ("test_1", "test_2", "train_1"):
        cv2.imwrite(str(src / f"{n}.png"), np.full((40, 40, 3), 100, np.uint8))
    r = run("synth", src, tmp_path / "a", "--exclude", "test_*", "--per-image", "1", "--seed", "0")
    assert r.exit_code == 0, r.output
    names = [p["name"] for p in json.loads((tmp_path / "a" / "pairs.json").read_text())["pairs"]]
    assert names == ["train_1_00.png"]
    r = run("synth", src, tmp_path / "b", "--include", "test_*", "--per-image", "1", "--seed", "0")
    assert [p["name"] for p in json.loads((tmp_path / "b" / "pairs.json").read_text())["pairs"]] == [
        "test_1_00.png",
        "test_2_00.png",
    ]
    r = run("synth", src, tmp_path / "c", "--include", "nothing*")
    assert r.exit_code == 2 and "matching 'nothing*'" in r.output


def test_shake_suite_is_deterministic(tmp_path):
    """The validation suite's camera-shake set is rebuilt pixel for pixel by the same command."""
    args = [
        "--per-image",
        "1",
        "--limit",
        "3",
        "--kernels",
        SHARED / "data" / "kernels",
        "--real-fraction",
        "1",
        "--noise",
        "0.01",
        "--seed",
        "100",
    ]
    for d in ("x", "y"):
        assert run("synth", DATA / "photos", tmp_path / d, *args).exit_code == 0
    a = json.loads((tmp_path / "x" / "pairs.json").read_text())["pairs"]
    b = json.loads((tmp_path / "y" / "pairs.json").read_text())["pairs"]
    assert a == [{**p, "kernel": p["kernel"]} for p in b] and len(a) == 3
    for p in a:
        for kind in ("blur", "sharp"):
            assert (tmp_path / "x" / p["group"] / kind / p["name"]).read_bytes() == (
                tmp_path / "y" / p["group"] / kind / p["name"]
            ).read_bytes()


def test_video_pairs_look_like_gopro(tmp_path):
    out = tmp_path / "video"
    r = run("synth", VIDEO, out, "--from-video", "--window", "9", "--limit", "3", "--offset", "30")
    assert r.exit_code == 0, r.output
    meta = json.loads((out / "pairs.json").read_text())
    import av

    with av.open(str(VIDEO)) as c:
        frames = [f.to_ndarray(format="rgb24") for _, f in zip(range(60), c.decode(video=0))]
    for p in meta["pairs"]:
        lo, hi = p["frames"]
        assert hi - lo + 1 == 9 and p["sharp_frame"] == lo + 4  # the window's middle frame
        blur = rgb(out / p["group"] / "blur" / p["name"])
        sharp = rgb(out / p["group"] / "sharp" / p["name"])
        assert np.array_equal(sharp, frames[p["sharp_frame"]])
        assert np.array_equal(blur, average_frames(frames[lo : hi + 1]))
        assert 22 <= psnr_u8(blur, sharp) <= 33, p  # GoPro's range of blur
    assert [p["frames"][0] for p in meta["pairs"]] == [30, 39, 48]


def test_synth_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run("synth", empty, tmp_path / "o")
    assert r.exit_code != 0 and "no images under" in one_line_error(r)
    junk = tmp_path / "clip.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    r = run("synth", junk, tmp_path / "o2", "--from-video")
    assert r.exit_code != 0 and "cannot open video" in one_line_error(r)
    r = run("synth", DATA / "photos" / "moon.png", tmp_path / "o2", "--from-video")
    assert r.exit_code != 0 and "fewer than one window of 7" in one_line_error(r)
    assert not (tmp_path / "o2" / "pairs.json").exists()
    r = run("synth", DATA / "photos", tmp_path / "o3", "--window", "9-3", "--from-video")
    assert r.exit_code != 0 and "window" in one_line_error(r)
    out = tmp_path / "o4"
    assert run("synth", DATA / "photos", out).exit_code == 0
    before = (out / "pairs.json").read_bytes()
    r = run("synth", DATA / "photos", out)
    assert r.exit_code != 0 and "--force" in one_line_error(r)
    assert (out / "pairs.json").read_bytes() == before


def _extent(k):
    ys, xs = np.nonzero(k > k.max() * 0.05)
    return max(np.ptp(xs), np.ptp(ys)) + 1


def test_smooth_random_kernels_blur_at_the_scale_of_measured_shake_and_fine_ones_reproduce_the_old_data():
    """The default paths blur like the measured kernels the suite validates on (median extent 8-18 px); "fine"
    (the shipped data's) curls into mostly <= 5 px blur and draws exactly what it always drew (the values below
    are the old code's, which rebuilt the committed mix bit for bit); a wrong name is an error."""
    from trainers.synth import SynthError, random_path_kernel

    measured = [_extent(np.load(f)) for f in sorted((SHARED / "data" / "kernels").glob("levin09_*.npy"))]
    assert len(measured) == 8 and 8 <= np.median(measured) <= 18
    rng = np.random.default_rng(0)
    smooth = np.array([_extent(random_path_kernel(rng, 7, 35)[0]) for _ in range(300)])
    assert 8 <= np.median(smooth) <= 18 and (smooth <= 5).mean() < 0.35
    rng = np.random.default_rng(0)
    fine = np.array([_extent(random_path_kernel(rng, 7, 35, "fine")[0]) for _ in range(300)])
    assert np.median(fine) <= 5 and (fine <= 5).mean() > 0.7
    rng = np.random.default_rng(3)
    for shape, y2, peak in (
        ((31, 31), 225.2586, 0.360774),
        ((9, 9), 16.0763, 0.852395),
        ((29, 29), 197.7796, 0.150196),
    ):
        k = random_path_kernel(rng, 7, 35, "fine")[0]
        y = np.mgrid[: k.shape[0], : k.shape[1]][0]
        assert (k.shape, float((k * y * y).sum()), float(k.max())) == (
            shape,
            pytest.approx(y2, abs=1e-3),
            pytest.approx(peak, abs=1e-5),
        )
    with pytest.raises(SynthError, match="unknown trajectory"):
        random_path_kernel(rng, 7, 35, "jagged")


def test_the_cli_offers_exactly_the_trajectories_synth_draws():
    """`deblurcli synth --trajectory` spells the names out (the CLI imports trainers lazily, for start-up time):
    they must stay the library's, default first."""
    from deblurcli.cli.synth import synth
    from trainers.synth import TRAJECTORIES

    opt = next(p for p in synth.params if p.name == "trajectory")
    assert tuple(opt.type.choices) == TRAJECTORIES and opt.default == TRAJECTORIES[0]
