"""Video facts and pixel conversions that keep colours where they were.

Everything here is PyAV (FFmpeg in process). The YUV <-> RGB conversion uses
the stream's own matrix and range: the tagged ones when the file has them,
else what players assume (BT.709 for HD, BT.601 below 720 lines; limited
range for YUV, full for the ``yuvj`` formats). 8-bit sources go through
``rgb24``; deeper ones through ``rgb48le`` (16 bits per channel), so 10-bit
video is never squeezed to 8 bits on the way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DeblurError


class VideoError(DeblurError):
    """A file that is not a usable video (no video stream, undecodable, truncated)."""


# AVColorSpace -> swscale colourspace (libswscale SWS_CS_*)
_SWS = {1: "ITU709", 4: "FCC", 5: "ITU601", 6: "SMPTE170M", 7: "SMPTE240M", 9: "BT2020", 10: "BT2020"}
UNSPECIFIED = 2
_STILLS = {"png", "mjpeg", "bmp", "tiff", "webp", "gif", "jpegxl"}
BT709, BT470BG, SMPTE170M = 1, 5, 6
RANGE_LIMITED, RANGE_FULL = 1, 2


@dataclass
class VideoInfo:
    path: Path
    codec: str
    width: int
    height: int
    pix_fmt: str
    bit_depth: int
    time_base: Fraction
    average_rate: Fraction | None
    frames: int | None  # from the container, when it says
    duration: float | None  # seconds
    start_time: float
    rotation: int  # degrees counter-clockwise, as VideoFrame.rotation
    colorspace: int
    color_range: int
    color_primaries: int
    color_trc: int
    other_streams: list[str] = field(default_factory=list)  # "audio:aac", "subtitle:mov_text"

    @property
    def matrix(self) -> str:
        """The swscale name of the YUV matrix to convert with."""
        return matrix_for(self.colorspace, self.height)

    @property
    def full_range(self) -> bool:
        return self.color_range == RANGE_FULL or (self.color_range != RANGE_LIMITED and self.pix_fmt.startswith("yuvj"))

    @property
    def estimated_frames(self) -> int | None:
        if self.frames:
            return self.frames
        if self.duration and self.average_rate:
            return int(round(self.duration * float(self.average_rate)))
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "codec": self.codec,
            "width": self.width,
            "height": self.height,
            "pix_fmt": self.pix_fmt,
            "bit_depth": self.bit_depth,
            "frames": self.frames,
            "duration": self.duration,
            "rate": str(self.average_rate) if self.average_rate else None,
            "rotation": self.rotation,
            "colorspace": self.colorspace,
            "color_range": self.color_range,
            "color_primaries": self.color_primaries,
            "color_trc": self.color_trc,
            "other_streams": self.other_streams,
        }


def matrix_for(colorspace: int, height: int) -> str:
    if colorspace in _SWS:
        return _SWS[colorspace]
    return "ITU709" if height >= 720 else "ITU601"


def bit_depth_of(pix_fmt: str) -> int:
    import av

    try:
        fmt = av.VideoFormat(pix_fmt)
    except (ValueError, TypeError):
        return 8
    return max((c.bits for c in fmt.components), default=8)


def open_input(path: Path):
    import av

    p = Path(path)
    if not p.exists():
        raise VideoError(f"{p}: no such file")
    if p.is_dir():
        raise VideoError(f"{p} is a folder, not a video (use 'deblurcli folder' for images)")
    try:
        return av.open(str(p), metadata_errors="ignore")
    except av.FFmpegError as e:
        raise VideoError(f"{p}: not a video FFmpeg can read ({_reason(e)})") from None


def _reason(e: Exception) -> str:
    return str(getattr(e, "strerror", None) or e).strip().rstrip(".") or type(e).__name__


def probe(path: Path) -> VideoInfo:
    """What the container and the first decoded frame say about the video stream."""
    import av

    with open_input(path) as c:
        if not c.streams.video:
            kinds = ", ".join(sorted({s.type for s in c.streams})) or "no streams"
            raise VideoError(f"{path}: has no video stream ({kinds})")
        vs = c.streams.video[0]
        cc = vs.codec_context
        fmt = c.format.name if c.format else ""
        if (
            fmt.endswith("_pipe")
            or fmt in ("image2", "png", "webp")
            or (cc is not None and cc.name in _STILLS and (vs.frames or 1) <= 1)
        ):
            raise VideoError(f"{path} is a still image, not a video; use 'deblurcli folder' for images")
        if cc is None or not cc.name:
            raise VideoError(f"{path}: the video codec is not supported by this FFmpeg")
        tb = vs.time_base or Fraction(1, 90000)
        duration = float(vs.duration * tb) if vs.duration else (c.duration / 1e6 if c.duration else None)
        start = float(vs.start_time * tb) if vs.start_time is not None else 0.0
        first = None
        try:
            for frame in c.decode(vs):
                first = frame
                break
        except av.FFmpegError as e:
            raise VideoError(f"{path}: cannot decode the video stream ({_reason(e)})") from None
        if first is None:
            raise VideoError(f"{path}: the video stream has no decodable frames")
        others = [
            f"{s.type}:{s.codec_context.name if s.codec_context else '?'}" for s in c.streams if s.index != vs.index
        ]
        pix = first.format.name
        return VideoInfo(
            path=Path(path),
            codec=cc.name,
            width=first.width,
            height=first.height,
            pix_fmt=pix,
            bit_depth=bit_depth_of(pix),
            time_base=tb,
            average_rate=vs.average_rate or vs.guessed_rate,
            frames=vs.frames or None,
            duration=duration,
            start_time=start,
            rotation=int(first.rotation or 0),
            colorspace=int(first.colorspace),
            color_range=int(first.color_range),
            color_primaries=int(first.color_primaries),
            color_trc=int(first.color_trc),
            other_streams=others,
        )


def frame_to_planar(frame, info: VideoInfo) -> np.ndarray:
    """A decoded frame -> (3, H, W) float32 RGB in [0, 1], with the stream's matrix and range."""
    deep = info.bit_depth > 8
    rgb = frame.reformat(
        format="rgb48le" if deep else "rgb24",
        src_colorspace=info.matrix,
        dst_colorspace=info.matrix,
        src_color_range="JPEG" if info.full_range else "MPEG",
        dst_color_range="JPEG",
        interpolation="BICUBIC",
    )
    arr = rgb.to_ndarray()
    scale = np.float32(65535.0 if deep else 255.0)
    return np.ascontiguousarray(arr.transpose(2, 0, 1), dtype=np.float32) / scale


def planar_to_frame(rgb: np.ndarray, info: VideoInfo, pix_fmt: str):
    """(3, H, W) float in [0, 1] -> a VideoFrame in ``pix_fmt``, converted and tagged like the source."""
    import av

    deep = bit_depth_of(pix_fmt) > 8
    hwc = rgb.transpose(1, 2, 0)
    if deep:
        arr = np.rint(np.clip(hwc, 0, 1) * 65535.0).astype(np.uint16)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb48le")
    else:
        arr = np.rint(np.clip(hwc, 0, 1) * 255.0).astype(np.uint8)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")
    if pix_fmt.startswith(("rgb", "bgr", "gbr")):
        out = frame.reformat(format=pix_fmt)
    else:
        out = frame.reformat(
            format=pix_fmt,
            src_colorspace=info.matrix,
            dst_colorspace=info.matrix,
            src_color_range="JPEG",
            dst_color_range="JPEG" if info.full_range else "MPEG",
            interpolation="BICUBIC",
        )
    tag_frame(out, info)
    return out


def effective_tags(info: VideoInfo) -> tuple[int, int]:
    """(colorspace, colour range) as converted: the source's, or the defaults assumed when it had none."""
    space = info.colorspace
    if space == UNSPECIFIED:
        space = BT709 if info.matrix == "ITU709" else SMPTE170M
    return space, RANGE_FULL if info.full_range else RANGE_LIMITED


def tag_frame(frame, info: VideoInfo) -> None:
    """Carry the source's colour tags (writing the defaults we assumed when it had none)."""
    frame.colorspace, frame.color_range = effective_tags(info)
    if info.color_primaries != UNSPECIFIED:
        frame.color_primaries = info.color_primaries
    if info.color_trc != UNSPECIFIED:
        frame.color_trc = info.color_trc
