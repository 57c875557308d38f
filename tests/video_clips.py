"""Short test videos built with PyAV from the real REDS frames in ../shared/data."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from .conftest import SHARED

REDS_SMALL = SHARED / "data" / "pairs" / "reds_small" / "train_000" / "blur"
REDS_720 = SHARED / "data" / "pairs" / "reds_train_000" / "blur"


def reds_frames(folder: Path = REDS_SMALL, n: int = 10) -> list[np.ndarray]:
    files = sorted(folder.glob("*.png"))[:n]
    return [cv2.imread(str(f), cv2.IMREAD_COLOR)[:, :, ::-1].copy() for f in files]


def make_clip(
    path: Path,
    frames: list[np.ndarray],
    pts: list[int] | None = None,
    time_base=Fraction(1, 12288),
    rate: int = 24,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    matrix: str = "ITU601",
    tags: dict | None = None,
    tone: bool = False,
    rotation: int = 0,
    gop: int | None = None,
) -> Path:
    """Encode RGB frames; ``pts`` for variable frame rate, ``tone`` adds a 440 Hz AAC track."""
    pts = pts if pts is not None else [int(i / rate / time_base) for i in range(len(frames))]
    out = av.open(str(path), "w")
    vs = out.add_stream(codec, rate=rate, options={"crf": "12"} if codec != "ffv1" else {})
    vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], pix_fmt
    vs.time_base = time_base
    vs.codec_context.time_base = time_base
    if gop:
        vs.codec_context.gop_size = gop
    for k, v in (tags or {}).items():
        setattr(vs.codec_context, k, v)
    if rotation:
        vs.set_display_rotation(rotation)
    au = out.add_stream("aac", rate=48000) if tone else None
    deep = "10" in pix_fmt
    for f, t in zip(frames, pts):
        src = av.VideoFrame.from_ndarray(
            (f.astype(np.uint16) * 257) if deep else f, format="rgb48le" if deep else "rgb24"
        )
        vf = src.reformat(
            format=pix_fmt, src_colorspace=matrix, dst_colorspace=matrix, src_color_range="JPEG", dst_color_range="MPEG"
        )
        for k, v in (tags or {}).items():
            setattr(vf, k, v)
        vf.pts = t
        vf.time_base = time_base
        for p in vs.encode(vf):
            out.mux(p)
    for p in vs.encode(None):
        out.mux(p)
    if au is not None:
        seconds = float((pts[-1] + pts[1] - pts[0]) * time_base)
        t = np.arange(int(48000 * seconds)) / 48000
        samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
        af = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
        af.sample_rate = 48000
        af.pts = 0
        for p in au.encode(af):
            out.mux(p)
        for p in au.encode(None):
            out.mux(p)
    out.close()
    return path


def video_pts(path: Path) -> list[int]:
    with av.open(str(path)) as c:
        return [f.pts for f in c.decode(video=0)]


def audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return []
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]


def decoded_rgb(path: Path) -> list[np.ndarray]:
    """Frames as (H, W, 3) uint8/uint16 RGB with the file's own matrix (deblurcli's conversion)."""
    from deblurcli.video.io import frame_to_planar, probe

    info = probe(path)
    scale = 65535.0 if info.bit_depth > 8 else 255.0
    with av.open(str(path)) as c:
        return [
            np.rint(frame_to_planar(f, info).transpose(1, 2, 0) * scale).astype(np.uint16 if scale > 255 else np.uint8)
            for f in c.decode(video=0)
        ]
