"""Decoding the asked span packet by packet, and telling a damaged input from a whole one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .io import VideoError, VideoInfo, open_input
from .policy import VideoOptions


@dataclass
class DecodeReport:
    """What the decoder met: frames decoded in the span, packets it could not decode, the first error."""

    frames: int = 0
    errors: int = 0
    first_error: str | None = None
    finished: bool = False

    def add_error(self, e: Exception) -> None:
        self.errors += 1
        self.first_error = self.first_error or str(e).strip().splitlines()[0][:160]


def _frames(c: Any, vs: Any, report: DecodeReport) -> Iterator[Any]:
    """Every decodable frame, packet by packet: a corrupt packet is counted and skipped, not the end."""
    import av

    try:
        for packet in c.demux(vs):
            try:
                yield from packet.decode()  # the last, empty packet flushes the decoder
            except av.FFmpegError as e:
                report.add_error(e)
    except av.FFmpegError as e:  # the demuxer itself gave up (a truncated or mangled container)
        report.add_error(e)


def _decoded(
    src: Path,
    info: VideoInfo,
    opts: VideoOptions,
    report: DecodeReport,
    span: tuple[int | None, int | None] = (None, None),
) -> Iterator[tuple[int, Any]]:
    """(pts, frame) for the frames in the asked span, in order; damage is recorded in ``report``. ``span``: a
    part of a split video, the frames with lo <= pts < hi (lo a keyframe's pts; None: open)."""
    c = open_input(src)
    lo, hi = span
    try:
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        t0 = opts.start
        if t0:
            c.seek(int(t0 / vs.time_base), stream=vs, backward=True)
        elif lo is not None:
            c.seek(lo, stream=vs, backward=True)
        t1 = (t0 or info.start_time) + opts.duration if opts.duration is not None else None
        for frame in _frames(c, vs, report):
            if frame.pts is None or (lo is not None and frame.pts < lo):
                continue
            if hi is not None and frame.pts >= hi:  # frames come in presentation order: the part is complete
                break
            t = float(frame.pts * vs.time_base)
            if t0 is not None and t < t0 - 1e-6:
                continue
            if t1 is not None and t >= t1 - 1e-6:
                break
            if opts.max_frames is not None and report.frames >= opts.max_frames:
                break
            yield frame.pts, frame
            report.frames += 1
        if report.frames == 0 and report.errors:
            raise VideoError(f"{src}: cannot decode the video stream ({report.first_error})")
        report.finished = True
    finally:
        c.close()


def damage(report: DecodeReport, info: VideoInfo, opts: VideoOptions) -> str | None:
    """Why the decoded frames fall short of the input, or None: undecodable packets, or fewer frames than the
    container declares (exactly, when it stores a count and the whole video is asked for; else within 5%)."""
    expected = _expected_frames(info, opts)
    exact = bool(info.frames) and opts.start is None and opts.duration is None
    short = expected is not None and report.frames < (expected if exact else expected * 0.95 - 2)
    if not report.errors and not short:
        return None
    what = f"{report.frames} of {expected} frames readable" if expected else f"{report.frames} frames readable"
    if report.errors:
        what += f", {report.errors} undecodable packet(s): {report.first_error}"
    return what


def _expected_frames(info: VideoInfo, opts: VideoOptions) -> int | None:
    n = info.estimated_frames
    if opts.duration is not None and info.average_rate:
        n = (
            int(round(opts.duration * float(info.average_rate)))
            if n is None
            else min(n, int(round(opts.duration * float(info.average_rate))))
        )
    elif opts.start and n is not None and info.average_rate:
        n = max(0, n - int(round(opts.start * float(info.average_rate))))
    if opts.max_frames is not None:
        n = opts.max_frames if n is None else min(n, opts.max_frames)
    return n
