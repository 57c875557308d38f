"""The remux: the finished segments' video packets and the input's audio and subtitles, interleaved into
the output without re-encoding, under a temporary name renamed when complete."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..atomic import atomic_path
from .io import VideoError, VideoInfo, open_input
from .policy import VideoOptions, check_container
from .segments import Manifest


def assemble(
    src: Path, output: Path, parts: Path, manifest: Manifest, info: VideoInfo, opts: VideoOptions, first_pts: int
) -> list[str]:
    """Interleave the segments' video packets and the input's other streams into the output (no re-encode)."""
    import av

    fmt = check_container(output, opts.codec)
    segs = [av.open(str(parts / s["file"])) for s in manifest.segments]
    inp = open_input(src)
    try:
        with atomic_path(output) as tmp:
            copied = _mux(tmp, fmt, segs, inp, manifest, info, opts, first_pts)
            manifest.mark_assembled()
        return copied
    except (av.FFmpegError, OSError) as e:  # a full disk, a vanished folder: the finished segments stay
        reason = getattr(e, "strerror", None) or str(e).strip().splitlines()[0]
        raise VideoError(
            f"cannot write {output}: {reason}; the finished segments are kept in {parts}: "
            "run the same command with --resume once that is fixed"
        ) from None
    finally:
        inp.close()
        for c in segs:
            c.close()


def _mux(
    tmp: Path, fmt: str, segs: list, inp: Any, manifest: Manifest, info: VideoInfo, opts: VideoOptions, first_pts: int
) -> list[str]:
    """Write the interleaved streams into ``tmp`` (renamed to the output by the caller)."""
    import av

    tags = {k: v for k, v in inp.metadata.items() if k.lower() not in _MUXER_KEYS}
    out = av.open(str(tmp), "w", format=fmt, options=_tag_options(fmt, tags))
    try:
        out.metadata.update(tags)
        vout = out.add_stream_from_template(segs[0].streams.video[0])
        vout.time_base = info.time_base
        _copy_stream_tags(inp.streams.video[0], vout)
        if info.rotation:
            vout.set_display_rotation(info.rotation)
        others, copied = _other_streams(out, inp) if opts.audio else ({}, [])
        t_lo = float(first_pts * info.time_base)
        t_hi = None
        if opts.start is not None or opts.duration is not None or opts.max_frames is not None:
            last = _last_pts(segs)
            t_hi = float(last * info.time_base) if last is not None else None
        shift = t_lo if opts.start else 0.0  # a segment export starts at zero
        merged = heapq.merge(
            ((_key(p), 0, p) for p in _video_packets(segs, manifest, info)),
            ((_key(p), 1, p) for p in _other_packets(inp, others, t_lo, t_hi, info)),
            key=lambda x: (x[0], x[1]),
        )
        for _, kind, p in merged:
            if shift:
                off = int(round(shift / p.time_base))
                p.pts = None if p.pts is None else p.pts - off
                p.dts = None if p.dts is None else p.dts - off
            p.stream = vout if kind == 0 else others[p.stream.index]
            out.mux(p)
        out.close()
    except BaseException:
        try:
            out.close()
        except Exception:
            pass
        raise
    return copied


# What the muxer writes for itself; everything else the input's container says (title, creation_time, location,
# a phone's make and model...) is carried over
_MUXER_KEYS = {"major_brand", "minor_version", "compatible_brands", "encoder"}
# What a player shows of a track: its language (a film's two audio tracks), name and date
_STREAM_KEYS = ("language", "title", "handler_name", "creation_time")


def _tag_options(fmt: str, tags: dict[str, str]) -> dict[str, str]:
    """Muxer options that let ``tags`` through: MP4/MOV write only their standard keys unless told to keep
    QuickTime metadata keys (a phone's com.apple.quicktime.location.ISO6709, make, model...)."""
    if fmt in ("mp4", "mov") and any(k.startswith("com.") for k in tags):
        return {"movflags": "use_metadata_tags"}
    return {}


def _copy_stream_tags(src: Any, dst: Any) -> None:
    for k, v in src.metadata.items():  # Matroska spells them in capitals
        if k.lower() in _STREAM_KEYS and v:
            dst.metadata[k.lower()] = v


def _other_streams(out: Any, inp: Any) -> tuple[dict[int, Any], list[str]]:
    """The input's audio and subtitle streams the output container can hold, added as copies."""
    import av

    others, copied = {}, []
    for s in inp.streams:
        if s.type not in ("audio", "subtitle") or s.index == inp.streams.video[0].index:
            continue
        try:
            others[s.index] = out.add_stream_from_template(s)
            _copy_stream_tags(s, others[s.index])
            copied.append(f"{s.type}:{s.codec_context.name if s.codec_context else '?'}")
        except (ValueError, av.FFmpegError):
            continue  # this container cannot hold that stream (e.g. mov_text in webm)
    return others, copied


def _video_packets(segs: list, manifest: Manifest, info: VideoInfo) -> Iterator[Any]:
    """Every segment's packets; a muxer may shift a segment's timestamps (B-frame delay, edit lists), so each
    segment's first frame is put back on the timestamp it was encoded with."""
    vtb = info.time_base
    for c, seg in zip(segs, manifest.segments):
        vs = c.streams.video[0]
        packets = [p for p in c.demux(vs) if p.size]
        lowest = min(p.pts for p in packets if p.pts is not None)
        off = int(round(float(lowest * vs.time_base - Fraction(seg["first_pts"]) * vtb) / vs.time_base))
        for p in packets:
            if off:
                p.pts = None if p.pts is None else p.pts - off
                p.dts = None if p.dts is None else p.dts - off
            yield p


def _other_packets(inp: Any, others: dict[int, Any], t_lo: float, t_hi: float | None, info: VideoInfo) -> Iterator[Any]:
    """The copied streams' packets, trimmed to the processed span."""
    if not others:
        return
    for p in inp.demux([inp.streams[i] for i in others]):
        if p.dts is None or not p.size:
            continue
        t = float(p.pts * p.time_base) if p.pts is not None else float(p.dts * p.time_base)
        if t_hi is not None and (t < t_lo - 1e-3 or t > t_hi + _frame_s(info)):
            continue
        yield p


def _key(p: Any) -> float:
    return float(p.dts * p.time_base) if p.dts is not None else float(p.pts * p.time_base)


def _frame_s(info: VideoInfo) -> float:
    return 1.0 / float(info.average_rate) if info.average_rate else 0.05


def _last_pts(segs) -> int | None:
    last = None
    for c in segs:
        for p in c.demux(c.streams.video[0]):
            if p.pts is not None:
                last = p.pts if last is None else max(last, p.pts)
        c.seek(0)
    return last
