"""deblurcli video: frames, timestamps, audio, colour, bit depth, rotation, resume, bad input."""

import json

import av
import cv2
import numpy as np
import pytest

from deblurcli.metrics import psnr as metrics_psnr
from deblurcli.video import VideoOptions, deblur_video, work_dir
from deblurcli.video.io import probe

from .helpers import one_line_error, run
from .video_clips import REDS_720, audio_packets, decoded_rgb, make_clip, reds_frames, video_pts


def psnr(a, b, peak=255.0):
    return min(99.0, metrics_psnr(a, b, peak))


@pytest.fixture(scope="module")
def tone_clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("v") / "tone.mp4", reds_frames(), tone=True)


def folder_output(frames, tmp_path, weights, *extra):
    src = tmp_path / "frames"
    src.mkdir()
    for i, f in enumerate(frames):
        cv2.imwrite(str(src / f"{i:03d}.png"), f[:, :, ::-1])
    r = run("folder", src, "-o", tmp_path / "frames-out", "--weights", weights, "--engine", "torch", "-q", *extra)
    assert r.exit_code == 0, r.output
    return [cv2.imread(str(tmp_path / "frames-out" / f"{i:03d}.png"))[:, :, ::-1] for i in range(len(frames))]


def test_audio_timing_and_frames_match_folder(tone_clip, tiny_weights, tmp_path):
    out = tmp_path / "out.mp4"
    report = tmp_path / "v.json"
    r = run("video", tone_clip, "-o", out, "--weights", tiny_weights, "--engine", "torch", "--json", report, "-q")
    assert r.exit_code == 0, r.output
    assert r.output == ""
    src, dst = probe(tone_clip), probe(out)
    assert (dst.width, dst.height, dst.pix_fmt) == (src.width, src.height, "yuv420p")
    assert video_pts(out) == video_pts(tone_clip) and len(video_pts(out)) == 10
    a, b = audio_packets(tone_clip), audio_packets(out)
    assert a and a == b  # stream copy: every audio packet bit-identical
    # 320x180 with no tags: BT.601, limited range, written out explicitly
    assert (dst.colorspace, dst.color_range) == (6, 1)
    doc = json.loads(report.read_text())
    assert doc["frames"] == 10 and doc["copied_streams"] == ["audio:aac"] and doc["source"]["frames"] == 10
    assert (doc["ensemble"], doc["strength"]) == (4, 1.0)  # the settings that shaped the pixels
    # the deblurred frames are folder's output for the same frames, up to x264 at crf 18 (the random tiny
    # model's noisy output is hard to compress: ~29 dB here; the lossless test below is the exact check)
    want = folder_output(decoded_rgb(tone_clip), tmp_path, tiny_weights)
    got = decoded_rgb(out)
    assert min(psnr(g, w) for g, w in zip(got, want)) > 26


def test_lossless_codec_matches_folder_to_rounding(tone_clip, tiny_weights, tmp_path):
    out = tmp_path / "out.mkv"
    r = run(
        "video",
        tone_clip,
        "-o",
        out,
        "--weights",
        tiny_weights,
        "--engine",
        "torch",
        "--codec",
        "ffv1",
        "--pix-fmt",
        "yuv444p",
        "--no-audio",
        "-q",
    )
    assert r.exit_code == 0, r.output
    assert audio_packets(out) == []
    want = folder_output(decoded_rgb(tone_clip), tmp_path, tiny_weights)
    for g, w in zip(decoded_rgb(out), want):
        assert np.abs(g.astype(int) - w.astype(int)).max() <= 3  # YUV 4:4:4 rounding only


def test_variable_frame_rate_keeps_every_timestamp(tiny_weights, tmp_path):
    pts = [0, 400, 1100, 1500, 2600, 3000, 3100, 4500, 5000, 6100]  # irregular, 1/12288 s units
    clip = make_clip(tmp_path / "vfr.mp4", reds_frames(), pts=pts, tone=True)
    assert video_pts(clip) == pts
    out = tmp_path / "vfr-out.mp4"
    r = run("video", clip, "-o", out, "--weights", tiny_weights, "--engine", "torch", "-q")
    assert r.exit_code == 0, r.output
    assert video_pts(out) == pts
    assert audio_packets(out) == audio_packets(clip)


def test_ten_bit_stays_ten_bit_with_its_colour_tags(tiny_weights, tmp_path):
    tags = {"colorspace": 1, "color_primaries": 1, "color_trc": 1, "color_range": 1}
    clip = make_clip(
        tmp_path / "hdr.mkv", reds_frames(n=4), codec="libx265", pix_fmt="yuv420p10le", matrix="ITU709", tags=tags
    )
    src = probe(clip)
    assert src.bit_depth == 10
    out = tmp_path / "out10.mkv"
    r = run("video", clip, "-o", out, "--weights", tiny_weights, "--engine", "torch", "--codec", "libx265", "-q")
    assert r.exit_code == 0, r.output
    dst = probe(out)
    assert dst.pix_fmt == "yuv420p10le" and dst.bit_depth == 10
    assert (dst.colorspace, dst.color_primaries, dst.color_trc, dst.color_range) == (1, 1, 1, 1)
    frames = decoded_rgb(out)
    assert frames[0].dtype == np.uint16
    # real 10-bit content, not 8-bit values shifted up
    assert len(np.unique(frames[0] >> 6)) > len(np.unique(frames[0] >> 8)) * 2
    # the default codec, libx264, also writes 10 bits
    r = run("video", clip, "-o", tmp_path / "x264.mp4", "--weights", tiny_weights, "--engine", "torch", "-q")
    assert r.exit_code == 0, r.output
    assert probe(tmp_path / "x264.mp4").pix_fmt == "yuv420p10le"


def test_hd_without_tags_uses_bt709(tiny_weights, tmp_path):
    frames = reds_frames(REDS_720, n=2)
    clip = make_clip(tmp_path / "hd.mp4", frames, matrix="ITU709")
    decoded = decoded_rgb(clip)
    # deblurcli's conversion of untagged HD uses BT.709, so colours come back where they were
    assert psnr(decoded[0], frames[0]) > 35
    out = tmp_path / "hd-out.mp4"
    r = run("video", clip, "-o", out, "--weights", tiny_weights, "--engine", "torch", "--frames", "1", "-q")
    assert r.exit_code == 0, r.output
    assert len(video_pts(out)) == 1 and probe(out).colorspace == 1


def test_rotation_is_carried_over(tiny_weights, tmp_path):
    clip = make_clip(tmp_path / "rot.mp4", reds_frames(n=3), rotation=90)
    assert probe(clip).rotation == 90
    out = tmp_path / "rot-out.mp4"
    r = run("video", clip, "-o", out, "--weights", tiny_weights, "--engine", "torch", "-q")
    assert r.exit_code == 0, r.output
    dst = probe(out)
    assert dst.rotation == 90 and (dst.width, dst.height) == (320, 180)


def _tagged(src, dst, container: dict, languages: dict) -> None:
    """A copy of the clip ``src`` with ``container`` tags and a language (and name) per stream type."""
    inp = av.open(str(src))
    out = av.open(str(dst), "w", options={"movflags": "use_metadata_tags"})
    out.metadata.update(container)
    streams = {}
    for s in inp.streams:
        streams[s.index] = out.add_stream_from_template(s)
        streams[s.index].metadata.update(languages[s.type])
    for p in inp.demux():
        if p.dts is not None:
            p.stream = streams[p.stream.index]
            out.mux(p)
    out.close()
    inp.close()


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_container_and_track_tags_are_carried_over(tone_clip, tiny_weights, tmp_path, ext):
    """A phone video's date, place and make, a title, and each track's language and name survive."""
    tags = {
        "title": "Holiday",
        "creation_time": "2026-07-01T10:00:00.000000Z",
        "location": "+48.8584+002.2945/",
        "com.apple.quicktime.make": "Apple",
    }
    langs = {"video": {"language": "eng"}, "audio": {"language": "fra", "handler_name": "Narration"}}
    clip = tmp_path / "tagged.mp4"
    _tagged(tone_clip, clip, tags, langs)
    out = tmp_path / f"out{ext}"
    r = run("video", clip, "-o", out, "--weights", tiny_weights, "--engine", "torch", "--frames", "4", "-q")
    assert r.exit_code == 0, r.output
    with av.open(str(out)) as c:
        got = {k.lower(): v for k, v in c.metadata.items()}
        for k, v in tags.items():
            assert got.get(k) == v, (k, dict(c.metadata))
        for s in c.streams:
            have = {k.lower(): v for k, v in s.metadata.items()}
            assert all(have.get(k) == v for k, v in langs[s.type].items()), (s.type, dict(s.metadata))


def test_segment_start_duration_and_preview(tone_clip, tiny_weights, tmp_path):
    out = tmp_path / "seg.mp4"
    # frames are 512 units of 1/12288 s apart (24 fps): start at frame 3, keep 4 frames
    r = run(
        "video",
        tone_clip,
        "-o",
        out,
        "--weights",
        tiny_weights,
        "--engine",
        "torch",
        "--start",
        str(3 / 24),
        "--duration",
        str(4 / 24),
        "-q",
    )
    assert r.exit_code == 0, r.output
    assert video_pts(out) == [0, 512, 1024, 1536]
    n_audio = len(audio_packets(out))
    assert 0 < n_audio < len(audio_packets(tone_clip))
    r = run(
        "video",
        tone_clip,
        "-o",
        tmp_path / "p.mp4",
        "--weights",
        tiny_weights,
        "--engine",
        "torch",
        "--frames",
        "2",
        "-q",
    )
    assert r.exit_code == 0 and video_pts(tmp_path / "p.mp4") == [0, 512]


def test_interrupt_then_resume(tone_clip, tiny_weights, tmp_path):
    from deblurcli.loading import load_model
    from deblurcli.pipeline import Deblurrer
    from engines.torch_engine import TorchEngine

    loaded = load_model(weights=tiny_weights)
    d = Deblurrer(TorchEngine(loaded.model, device="cpu"), tile=64, overlap=16, multiple=loaded.pad_multiple)
    calls = []

    def model(x):
        calls.append(1)
        if len(calls) == 7:
            raise KeyboardInterrupt
        return d.run(x)

    out = tmp_path / "r.mp4"
    opts = VideoOptions(segment_frames=4)
    res = deblur_video(tone_clip, out, model, opts, "m")
    assert res.interrupted and res.frames == 4  # one finished segment of 4; the 5th..7th were dropped
    assert not out.exists() and not list(tmp_path.glob(".r.mp4.tmp"))
    assert work_dir(out).is_dir()
    with pytest.raises(Exception, match="--resume"):
        deblur_video(tone_clip, out, d.run, opts, "m")
    calls.clear()
    res = deblur_video(tone_clip, out, model, opts, "m", resume=True)
    assert not res.interrupted and res.frames == 10 and res.resumed_frames == 4
    assert len(calls) == 6  # the model ran only on the frames not yet done
    assert video_pts(out) == video_pts(tone_clip) and audio_packets(out) == audio_packets(tone_clip)
    assert not work_dir(out).exists()
    # resuming with other settings is refused instead of mixing two runs
    calls.clear()
    out2 = tmp_path / "r2.mp4"
    assert deblur_video(tone_clip, out2, model, opts, "m").interrupted
    with pytest.raises(Exception, match="other input or settings"):
        deblur_video(tone_clip, out2, d.run, VideoOptions(segment_frames=4, crf=30), "m", resume=True)


def test_default_output_and_never_overwriting(tone_clip, tiny_weights, tmp_path):
    import shutil

    clip = tmp_path / "in.mp4"
    shutil.copy(tone_clip, clip)
    before = clip.read_bytes()
    r = run("video", clip, "--weights", tiny_weights, "--engine", "torch", "--frames", "1", "-q")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "in-deblurred.mp4").is_file() and clip.read_bytes() == before
    r = run("video", clip, "--weights", tiny_weights, "--engine", "torch", "--frames", "1")
    assert r.exit_code == 2 and "exists; pass --overwrite" in one_line_error(r)
    r = run("video", clip, "-o", clip, "--weights", tiny_weights, "--engine", "torch")
    assert r.exit_code == 2 and "overwrite the input" in one_line_error(r)
    r = run("video", clip, "-o", tmp_path / "x.webm", "--weights", tiny_weights)
    assert r.exit_code == 2 and "a .webm file cannot hold libx264 video" in one_line_error(r)
    r = run("video", clip, "-o", tmp_path / "x.gif", "--weights", tiny_weights)
    assert r.exit_code == 2 and "cannot write a .gif file" in one_line_error(r)
    assert clip.read_bytes() == before


@pytest.mark.parametrize("kind", ["text", "image", "audio-only", "truncated", "missing", "folder"])
def test_bad_input_is_one_line_and_leaves_nothing(kind, tone_clip, tiny_weights, tmp_path):
    bad = tmp_path / f"bad-{kind}.mp4"
    if kind == "text":
        bad.write_text("not a video\n" * 100)
    elif kind == "image":
        bad.write_bytes(cv2.imencode(".png", reds_frames(n=1)[0])[1].tobytes())
        bad = bad.rename(tmp_path / "bad-image.png")
    elif kind == "audio-only":
        out = av.open(str(bad), "w")
        au = out.add_stream("aac", rate=48000)
        af = av.AudioFrame.from_ndarray(np.zeros((1, 4800), np.float32), format="flt", layout="mono")
        af.sample_rate, af.pts = 48000, 0
        for p in list(au.encode(af)) + list(au.encode(None)):
            out.mux(p)
        out.close()
    elif kind == "truncated":
        data = tone_clip.read_bytes()
        bad.write_bytes(data[: len(data) // 3])
    elif kind == "folder":
        bad.mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    r = run("video", bad, "--weights", tiny_weights, "--engine", "torch")
    assert r.exit_code == 2, r.output
    msg = one_line_error(r)
    assert msg.startswith("Error: ") and str(bad.name) in msg
    expected = {
        "text": "not a video",
        "image": "still image, not a video; use 'deblurcli folder'",
        "audio-only": "has no video stream",
        "truncated": "",
        "missing": "no such file",
        "folder": "is a folder",
    }[kind]
    assert expected in msg
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing half-written left behind


def test_a_resumed_video_is_tied_to_its_ensemble_and_strength(tiny_weights):
    """The segments a --resume reuses were made with the same self-ensemble and --strength, else it is refused."""
    from deblurcli.inference import InferenceOptions, open_deblurrer
    from deblurcli.video.batch import model_id

    ids = set()
    for ens, strength in ((1, 1.0), (4, 1.0), (1, 0.5), (1, 0.75)):
        o = InferenceOptions(weights=tiny_weights, engine="torch", ensemble=ens, strength=strength)
        with open_deblurrer(o) as opened:
            ids.add(model_id(opened))
    assert len(ids) == 4
