"""Synthetic pairs from sharp high-frame-rate video: the mean of N consecutive frames, the middle frame as
the target, as GoPro (Nah et al. 2017) and REDS (Nah et al. 2019) were made; in linear light (GoPro's
``blur_gamma``) or over the sRGB codes (GoPro's ``blur``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from deblurcli.images import IMAGE_EXTS, read_image

from .camera import linear_to_srgb, srgb_to_linear, to_uint8
from .synth import SynthError, Writer


def average_frames(frames: Sequence[np.ndarray], linear: bool = True) -> np.ndarray:
    """Mean of uint8 RGB frames, as uint8 sRGB: in linear light (GoPro's ``blur_gamma``), or of the
    sRGB codes themselves (``linear=False``: GoPro's ``blur``, what its camera-less averaging did)."""
    acc = np.zeros(frames[0].shape, dtype=np.float64)
    for f in frames:
        x = f.astype(np.float64) / 255.0
        acc += srgb_to_linear(x) if linear else x
    mean = acc / len(frames)
    return to_uint8(linear_to_srgb(mean) if linear else mean)


def parse_window(text: str) -> tuple[int, int]:
    """``"7"`` or ``"7-13"`` -> (low, high)."""
    try:
        lo, _, hi = text.partition("-")
        a, b = int(lo), int(hi or lo)
    except ValueError:
        raise SynthError(f"window {text!r}: expected a frame count like 7 or a range like 7-13") from None
    if a < 2 or b < a:
        raise SynthError(f"window {text!r}: need at least 2 frames, low <= high")
    return a, b


def video_frames(path: str | Path) -> Iterator[tuple[np.ndarray, float | None]]:
    """(RGB uint8 frame, time in seconds) for every frame of the first video stream."""
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as e:
        raise SynthError(f"cannot open video {path}: {e}") from None
    with container:
        if not container.streams.video:
            raise SynthError(f"{path} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                tb = stream.time_base
                t = float(frame.pts * tb) if frame.pts is not None and tb is not None else None
                yield frame.to_ndarray(format="rgb24"), t
        except av.error.FFmpegError as e:
            raise SynthError(f"{path}: decoding failed: {e}") from None


def folder_frames(path: Path) -> Iterator[tuple[np.ndarray, float | None]]:
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise SynthError(f"no images in {path}")
    for p in files:
        img = read_image(p)
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        yield img[:, :, :3], None


AVERAGES = ("linear", "srgb", "both")


def synth_from_frames(
    frames: Iterable[tuple[np.ndarray, float | None]],
    writer: Writer,
    group: str,
    window: tuple[int, int],
    stride: int | None,
    offset: int,
    limit: int | None,
    rng: np.random.Generator,
    average: str = "linear",
) -> int:
    """Average windows of consecutive frames; the middle frame is the target.

    ``average``: ``linear`` (in linear light, like GoPro's ``blur_gamma``), ``srgb`` (the codes, like
    GoPro's ``blur``) or ``both`` (two pairs per window, names ending ``_lin`` and ``_srgb``).
    """
    ways = {"linear": [True], "srgb": [False], "both": [True, False]}[average]
    buf: list[tuple[np.ndarray, float | None]] = []
    index = 0  # index of buf[0] in the stream
    made = 0
    n = int(rng.integers(window[0], window[1] + 1))
    start = offset
    seen = 0
    for frame in frames:
        buf.append(frame)
        seen += 1
        while True:
            while buf and index < start:  # drop frames before the next window
                buf.pop(0)
                index += 1
            if index != start or len(buf) < n:
                break
            win = buf[:n]
            mid = (n - 1) // 2
            for linear in ways:
                suffix = "" if len(ways) == 1 else ("_lin" if linear else "_srgb")
                blur = average_frames([f for f, _ in win], linear)
                writer.add(
                    group,
                    f"{made:05d}{suffix}",
                    blur,
                    win[mid][0],
                    frames=[start, start + n - 1],
                    window=n,
                    sharp_frame=start + mid,
                    times=[win[0][1], win[-1][1]],
                    average="linear" if linear else "srgb",
                )
            made += 1
            if limit and made >= limit:
                return made * len(ways)
            start += stride or n
            n = int(rng.integers(window[0], window[1] + 1))
    if made == 0:
        raise SynthError(f"the input has {seen} frames, fewer than one window of {n} from frame {offset}")
    return made * len(ways)
