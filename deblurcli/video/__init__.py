"""``deblurcli video``: deblur every frame of a video, keep everything else.

The package, by job: :mod:`.io` (probe, decode and colour conversion),
:mod:`.policy` (options, codecs, containers, pixel formats, paths refused
before any work), :mod:`.segments` (the resume manifest and the segment
encoder), :mod:`.stages` (decoder, model and encoder running at once) and
:mod:`.remux` (segments and the input's other streams into the output).
"""

from .io import VideoError, VideoInfo, probe
from .policy import (
    CODECS,
    AlreadyComplete,
    VideoOptions,
    VideoResult,
    check_container,
    check_paths,
    choose_pix_fmt,
    default_output,
    work_dir,
)
from .stages import deblur_video

__all__ = [
    "AlreadyComplete",
    "CODECS",
    "VideoError",
    "VideoInfo",
    "VideoOptions",
    "VideoResult",
    "check_container",
    "check_paths",
    "choose_pix_fmt",
    "deblur_video",
    "default_output",
    "probe",
    "work_dir",
]
