"""Video options, results and what is refused before any work: codecs, containers, pixel formats, paths."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from ..catalog import VIDEO_CODECS as CODECS
from ..errors import DeblurError
from .io import VideoError, VideoInfo

log = logging.getLogger("deblurcli")

DEFAULT_CRF = {"libx264": 18, "libx265": 20, "libsvtav1": 30, "libvpx-vp9": 30}
SEGMENT_FRAMES = 120


@dataclass
class VideoOptions:
    codec: str = "libx264"
    crf: int | None = None
    preset: str | None = None
    pix_fmt: str | None = None
    audio: bool = True
    start: float | None = None  # seconds
    duration: float | None = None  # seconds
    max_frames: int | None = None
    segment_frames: int = SEGMENT_FRAMES
    salvage: bool = False  # keep the decodable frames of a damaged input (and say what was lost)

    def encoder_options(self) -> dict[str, str]:
        opts: dict[str, str] = {"x265-params": "log-level=error"} if self.codec == "libx265" else {}
        crf = self.crf if self.crf is not None else DEFAULT_CRF.get(self.codec)
        if crf is not None and self.codec != "ffv1":
            opts["crf"] = str(crf)
            if self.codec == "libvpx-vp9":
                opts["b"] = "0"  # constant quality
        if self.preset:
            key = {"libvpx-vp9": "deadline"}.get(self.codec, "preset")
            opts[key] = self.preset
        return opts


@dataclass
class VideoResult:
    output: Path
    frames: int
    seconds: float
    model_seconds: float
    resumed_frames: int
    info: VideoInfo
    pix_fmt: str
    interrupted: bool = False
    copied_streams: list[str] = field(default_factory=list)
    damage: str | None = None  # what a salvaged input lost


def default_output(src: Path) -> Path:
    return src.with_name(f"{src.stem}-deblurred.mp4")


def work_dir(output: Path) -> Path:
    return output.with_name(f".{output.name}.parts")


def choose_pix_fmt(codec: str, info: VideoInfo, asked: str | None) -> str:
    """The encoder's pixel format: asked, else the source's, else one as deep as the source; for an odd width
    or height, one without chroma subsampling (4:2:0 needs even sizes), and a warning says so."""
    fmt = _pix_fmt(codec, info, asked)
    odd_w, odd_h = info.width % 2, info.height % 2
    sub = "420" in fmt or "422" in fmt or "411" in fmt
    if sub and (odd_w or (odd_h and "420" in fmt)):
        full = fmt.replace("420", "444").replace("422", "444").replace("411", "444")
        import av

        supported = [f.name for f in (av.codec.Codec(codec, "w").video_formats or [])]
        if full not in supported:
            raise VideoError(
                f"{info.width}x{info.height} is an odd size, which {fmt} cannot hold and {codec} has no "
                f"{full}; use --codec ffv1 or libx265"
            )
        log.warning(
            "%dx%d is an odd size, which %s cannot hold: writing %s (no chroma subsampling) to keep every pixel",
            info.width,
            info.height,
            fmt,
            full,
        )
        return full
    return fmt


def _pix_fmt(codec: str, info: VideoInfo, asked: str | None) -> str:
    import av

    supported = [f.name for f in (av.codec.Codec(codec, "w").video_formats or [])]
    if asked:
        if supported and asked not in supported:
            raise VideoError(f"{codec} cannot encode {asked} (it can: {', '.join(supported)})")
        return asked
    src = info.pix_fmt.replace("yuvj", "yuv")
    if src in supported:
        return src
    deep = info.bit_depth > 8
    for cand in ["yuv420p10le", "yuv422p10le", "yuv444p10le", "gbrp10le"] if deep else ["yuv420p"]:
        if cand in supported:
            return cand
    if deep:
        raise VideoError(f"{codec} cannot encode more than 8 bits here; use --codec libx265, ffv1 or --pix-fmt")
    return supported[0] if supported else "yuv420p"


# output container -> the encoders it can hold
CONTAINERS = {
    ".mp4": ("mp4", {"libx264", "libx265", "libsvtav1", "libvpx-vp9"}),
    ".m4v": ("mp4", {"libx264", "libx265", "libsvtav1", "libvpx-vp9"}),
    ".mov": ("mov", {"libx264", "libx265"}),
    ".mkv": ("matroska", set(CODECS)),
    ".webm": ("webm", {"libsvtav1", "libvpx-vp9"}),
    ".nut": ("nut", set(CODECS)),
}


def check_container(output: Path, codec: str) -> str:
    """The muxer for ``output``'s extension, if it can hold ``codec`` (checked before any work)."""
    ext = output.suffix.lower()
    if ext not in CONTAINERS:
        raise VideoError(f"cannot write a {ext or 'extension-less'} file; use one of {', '.join(CONTAINERS)}")
    fmt, codecs = CONTAINERS[ext]
    if codec not in codecs:
        raise VideoError(
            f"a {ext} file cannot hold {codec} video; use .mkv, or --codec "
            f"{' / '.join(c for c in CODECS if c in codecs)}"
        )
    return fmt


class AlreadyComplete(DeblurError):
    """``--resume`` of a run whose output is complete: nothing to do."""


def finished_parts(output: Path) -> bool:
    """Whether the work folder beside ``output`` belongs to a run that finished (its manifest says the output
    was assembled) while the output exists: a kill between the final rename and the clean-up."""
    import json

    manifest = work_dir(output) / "manifest.json"
    try:
        return output.is_file() and bool(json.loads(manifest.read_text()).get("assembled"))
    except (OSError, ValueError):
        return False


def check_paths(src: Path, output: Path, resume: bool, overwrite: bool) -> None:
    """Refuse, before any work, what would lose a file or mix two runs. A finished run's leftover work folder
    is removed first; ``--resume`` of a complete output raises :class:`AlreadyComplete`."""
    import shutil

    if finished_parts(output):
        shutil.rmtree(work_dir(output), ignore_errors=True)
    if resume and output.is_file() and not work_dir(output).exists() and not overwrite:
        raise AlreadyComplete(f"{output} is complete; nothing to resume")
    if output.exists() and output.resolve() == Path(src).resolve():
        raise VideoError("the output would overwrite the input; choose another -o")
    if output.exists() and not overwrite:
        raise VideoError(f"{output} exists; pass --overwrite to replace it")
    if output.is_dir():
        raise VideoError(f"{output} is a folder; give a file name with -o")
    if work_dir(output).exists() and not resume:
        raise VideoError(f"an unfinished run is in {work_dir(output)}; pass --resume to continue it or delete it")
