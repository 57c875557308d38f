"""``deblurcli video``: deblur every frame of a video, keep everything else.

Three stages run at once, joined by bounded queues: a decoder thread (demux,
decode, YUV -> RGB with the stream's matrix), the model in the calling thread
(the same :class:`~deblurcli.pipeline.Deblurrer` as ``folder``), and an
encoder thread (RGB -> YUV, encode, mux). Each frame keeps its own
timestamp, so variable-frame-rate video stays in sync.

Resumable by construction: frames are encoded into numbered segments in a
work folder beside the output (``.NAME.parts/``), each recorded in a manifest
when complete. Ctrl-C drops the unfinished segment; ``--resume`` decodes past
the finished ones without running the model on them. When every segment is
done, the segments' packets (stream copy) and the input's audio and
subtitle packets (stream copy, trimmed to the processed span) are
interleaved into ``.NAME.tmp`` and renamed to the output. Until that rename
no file looks like a finished output.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .catalog import VIDEO_CODECS as CODECS
from .video_io import (
    UNSPECIFIED,
    VideoError,
    VideoInfo,
    effective_tags,
    frame_to_planar,
    open_input,
    planar_to_frame,
    probe,
)

DEFAULT_CRF = {"libx264": 18, "libx265": 20, "libsvtav1": 30, "libvpx-vp9": 30}
SEGMENT_FRAMES = 120
os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its whole configuration otherwise
_END = object()


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


def default_output(src: Path) -> Path:
    return src.with_name(f"{src.stem}-deblurred.mp4")


def work_dir(output: Path) -> Path:
    return output.with_name(f".{output.name}.parts")


def choose_pix_fmt(codec: str, info: VideoInfo, asked: str | None) -> str:
    """The encoder's pixel format: asked, else the source's, else one as deep as the source."""
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


def check_paths(src: Path, output: Path, resume: bool, overwrite: bool) -> None:
    """Refuse, before any work, what would lose a file or mix two runs."""
    if output.exists() and output.resolve() == Path(src).resolve():
        raise VideoError("the output would overwrite the input; choose another -o")
    if output.exists() and not overwrite:
        raise VideoError(f"{output} exists; pass --overwrite to replace it")
    if output.is_dir():
        raise VideoError(f"{output} is a folder; give a file name with -o")
    if work_dir(output).exists() and not resume:
        raise VideoError(f"an unfinished run is in {work_dir(output)}; pass --resume to continue it or delete it")


class Manifest:
    """What is finished, for --resume: per segment, its first frame and frame count."""

    def __init__(self, path: Path, fingerprint: str) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self.segments: list[dict[str, Any]] = []

    @classmethod
    def load(cls, path: Path, fingerprint: str) -> Manifest:
        m = cls(path, fingerprint)
        if path.is_file():
            doc = json.loads(path.read_text())
            if doc.get("fingerprint") != fingerprint:
                raise VideoError(
                    f"{path.parent} holds an unfinished run with other input or settings; "
                    "delete it or run without --resume"
                )
            m.segments = doc["segments"]
        return m

    def add(self, entry: dict[str, Any]) -> None:
        self.segments.append(entry)
        from .atomic import write_json

        write_json(self.path, {"fingerprint": self.fingerprint, "segments": self.segments})

    @property
    def done_frames(self) -> int:
        return sum(s["frames"] for s in self.segments)


def fingerprint(src: Path, opts: VideoOptions, model_id: str) -> str:
    st = src.stat()
    doc = {
        "src": str(src.resolve()),
        "size": st.st_size,
        "mtime": st.st_mtime_ns,
        "opts": asdict(opts),
        "model": model_id,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def _decoded(src: Path, info: VideoInfo, opts: VideoOptions) -> Iterator[tuple[int, Any]]:
    """(pts, frame) for the frames in the asked span, in order."""
    import av

    c = open_input(src)
    try:
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        t0 = opts.start
        if t0:
            c.seek(int(t0 / vs.time_base), stream=vs, backward=True)
        t1 = (t0 or info.start_time) + opts.duration if opts.duration is not None else None
        n = 0
        try:
            for frame in c.decode(vs):
                if frame.pts is None:
                    continue
                t = float(frame.pts * vs.time_base)
                if t0 is not None and t < t0 - 1e-6:
                    continue
                if t1 is not None and t >= t1 - 1e-6:
                    break
                if opts.max_frames is not None and n >= opts.max_frames:
                    break
                yield frame.pts, frame
                n += 1
        except av.FFmpegError as e:
            if n == 0:
                raise VideoError(f"{src}: cannot decode the video stream ({e})") from None
            # a truncated tail: what decoded is kept, and the summary says how many frames there were
    finally:
        c.close()


class _Worker(threading.Thread):
    def __init__(self, target: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self._target_fn = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn()
        except BaseException as e:  # handed to the main thread
            self.error = e


def _put(q: queue.Queue, item: Any, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _get(q: queue.Queue, stop: threading.Event, producer: threading.Thread | None = None) -> Any:
    """The next item; ``_END`` once stopped, or once the producer died and the queue is drained."""
    while True:
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            if stop.is_set() or (producer is not None and not producer.is_alive()):
                return _END


class _SegmentWriter:
    """Encodes frames into segment files, one manifest entry per finished segment."""

    def __init__(self, parts: Path, manifest: Manifest, info: VideoInfo, opts: VideoOptions, pix_fmt: str) -> None:
        self.parts, self.manifest, self.info, self.opts, self.pix_fmt = parts, manifest, info, opts, pix_fmt
        self.container = None
        self.stream = None
        self.count = 0
        self.first_index = 0

    def _open(self, index: int) -> None:
        import av

        k = len(self.manifest.segments)
        # MP4 (NUT for ffv1, which MP4 cannot hold) keeps the stream's own time base
        # and B-frame reordering, so every timestamp survives exactly
        fmt = "nut" if self.opts.codec == "ffv1" else "mp4"
        self.path = self.parts / f"segment{k:05d}.{fmt}"
        self.container = av.open(str(self.path), "w", format=fmt)
        rate = self.info.average_rate or Fraction(25)
        s = self.container.add_stream(self.opts.codec, rate=rate, options=self.opts.encoder_options())
        s.width, s.height, s.pix_fmt = self.info.width, self.info.height, self.pix_fmt
        s.time_base = self.info.time_base
        s.codec_context.time_base = self.info.time_base
        cc = s.codec_context
        # the matrix and range the frames were converted with, written out even when the source left
        # them unspecified, so every player shows the colours we computed
        cc.colorspace, cc.color_range = effective_tags(self.info)
        if self.info.color_primaries != UNSPECIFIED:
            cc.color_primaries = self.info.color_primaries
        if self.info.color_trc != UNSPECIFIED:
            cc.color_trc = self.info.color_trc
        self.stream = s
        self.count = 0
        self.first_index = index
        self.first_pts: int | None = None

    def write(self, index: int, pts: int, rgb: np.ndarray) -> None:
        if self.container is None:
            self._open(index)
        frame = planar_to_frame(rgb, self.info, self.pix_fmt)
        self.first_pts = pts if self.first_pts is None else min(self.first_pts, pts)
        frame.pts = pts
        frame.time_base = self.info.time_base
        for p in self.stream.encode(frame):
            self.container.mux(p)
        self.count += 1
        if self.count >= self.opts.segment_frames:
            self.finish()

    def finish(self) -> None:
        if self.container is None:
            return
        for p in self.stream.encode(None):
            self.container.mux(p)
        self.container.close()
        self.manifest.add(
            {"file": self.path.name, "first": self.first_index, "frames": self.count, "first_pts": self.first_pts}
        )
        self.container = None

    def abandon(self) -> None:
        if self.container is not None:
            try:
                self.container.close()
            except Exception:
                pass
            self.path.unlink(missing_ok=True)
            self.container = None


def deblur_video(
    src: Path,
    output: Path,
    run_model: Callable[[np.ndarray], np.ndarray],
    opts: VideoOptions,
    model_id: str,
    resume: bool = False,
    overwrite: bool = False,
    on_frame: Callable[[int, int | None], None] | None = None,
    info: VideoInfo | None = None,
) -> VideoResult:
    """Deblur ``src`` into ``output``; see the module docstring. ``info``: the source's probe, if done."""
    src, output = Path(src), Path(output)
    info = info or probe(src)
    check_paths(src, output, resume, overwrite)
    if opts.codec not in CODECS:
        raise VideoError(f"unsupported codec {opts.codec!r} (use {', '.join(CODECS)})")
    check_container(output, opts.codec)
    pix_fmt = choose_pix_fmt(opts.codec, info, opts.pix_fmt)
    parts = work_dir(output)
    fp = fingerprint(src, opts, model_id)
    try:
        parts.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VideoError(f"cannot write beside {output}: {e.strerror or e}") from None
    manifest = Manifest.load(parts / "manifest.json", fp)
    skip = manifest.done_frames
    total = _expected_frames(info, opts)

    stop = threading.Event()
    q_in: queue.Queue = queue.Queue(maxsize=4)
    q_out: queue.Queue = queue.Queue(maxsize=4)
    writer = _SegmentWriter(parts, manifest, info, opts, pix_fmt)
    first_pts: list[int] = []

    def decode() -> None:
        for i, (pts, frame) in enumerate(_decoded(src, info, opts)):
            if not first_pts:
                first_pts.append(pts)
            item = (i, pts, None if i < skip else frame_to_planar(frame, info))
            if not _put(q_in, item, stop):
                return
        _put(q_in, _END, stop)

    def encode() -> None:
        while True:
            item = _get(q_out, stop)
            if item is _END:
                break
            i, pts, rgb = item
            writer.write(i, pts, rgb)
        if not stop.is_set():
            writer.finish()

    t_start = time.perf_counter()
    model_s = 0.0
    dec, enc = _Worker(decode), _Worker(encode)
    dec.start()
    enc.start()
    interrupted = False
    try:
        while True:
            item = _get(q_in, stop, dec)
            if item is _END or enc.error is not None:
                break
            i, pts, rgb = item
            if rgb is not None:
                t0 = time.perf_counter()
                out = run_model(rgb)
                model_s += time.perf_counter() - t0
                if not _put(q_out, (i, pts, out), stop):
                    break
            if on_frame:
                on_frame(i + 1, total)
        if dec.error is None and enc.error is None:
            _put(q_out, _END, stop)
            enc.join()
        else:
            stop.set()
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
    except BaseException:
        stop.set()
        raise
    finally:
        dec.join()
        enc.join()
        if stop.is_set():
            writer.abandon()
    for w in (dec, enc):
        if w.error is not None:
            raise w.error if isinstance(w.error, VideoError) else VideoError(f"{src}: {w.error}")
    if interrupted:
        return VideoResult(
            output, manifest.done_frames, time.perf_counter() - t_start, model_s, skip, info, pix_fmt, interrupted=True
        )
    if manifest.done_frames == 0:
        shutil.rmtree(parts, ignore_errors=True)
        raise VideoError(f"{src}: no frames in the asked span")
    copied = _assemble(src, output, parts, manifest, info, opts, first_pts[0] if first_pts else 0)
    shutil.rmtree(parts, ignore_errors=True)
    return VideoResult(
        output, manifest.done_frames, time.perf_counter() - t_start, model_s, skip, info, pix_fmt, copied_streams=copied
    )


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


def _assemble(
    src: Path, output: Path, parts: Path, manifest: Manifest, info: VideoInfo, opts: VideoOptions, first_pts: int
) -> list[str]:
    """Interleave the segments' video packets and the input's other streams into the output (no re-encode)."""
    import av

    from .atomic import atomic_path

    fmt = check_container(output, opts.codec)
    segs = [av.open(str(parts / s["file"])) for s in manifest.segments]
    inp = open_input(src)
    try:
        with atomic_path(output) as tmp:
            return _mux(tmp, fmt, segs, inp, manifest, info, opts, first_pts)
    finally:
        inp.close()
        for c in segs:
            c.close()


def _mux(
    tmp: Path, fmt: str, segs: list, inp: Any, manifest: Manifest, info: VideoInfo, opts: VideoOptions, first_pts: int
) -> list[str]:
    """Write the interleaved streams into ``tmp`` (renamed to the output by the caller)."""
    import av

    out = av.open(str(tmp), "w", format=fmt)
    copied: list[str] = []
    try:
        vout = out.add_stream_from_template(segs[0].streams.video[0])
        vout.time_base = info.time_base
        if info.rotation:
            vout.set_display_rotation(info.rotation)
        others = {}
        if opts.audio:
            for s in inp.streams:
                if s.type not in ("audio", "subtitle") or s.index == inp.streams.video[0].index:
                    continue
                try:
                    others[s.index] = out.add_stream_from_template(s)
                    copied.append(f"{s.type}:{s.codec_context.name if s.codec_context else '?'}")
                except (ValueError, av.FFmpegError):
                    continue  # this container cannot hold that stream (e.g. mov_text in webm)
        vtb = info.time_base
        t_lo = float(first_pts * vtb)
        t_hi = None
        if opts.start is not None or opts.duration is not None or opts.max_frames is not None:
            last = _last_pts(segs)
            t_hi = float(last * vtb) if last is not None else None
        shift = t_lo if opts.start else 0.0  # a segment export starts at zero

        def video_packets():
            # a muxer may shift a segment's timestamps (B-frame delay, edit lists): put each segment's
            # first frame back on the timestamp it was encoded with
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

        def other_packets():
            if not others:
                return
            for p in inp.demux([inp.streams[i] for i in others]):
                if p.dts is None or not p.size:
                    continue
                t = float(p.pts * p.time_base) if p.pts is not None else float(p.dts * p.time_base)
                if t_hi is not None and (t < t_lo - 1e-3 or t > t_hi + _frame_s(info)):
                    continue
                yield p

        def key(p):
            return float(p.dts * p.time_base) if p.dts is not None else float(p.pts * p.time_base)

        merged = heapq.merge(
            ((key(p), 0, p) for p in video_packets()),
            ((key(p), 1, p) for p in other_packets()),
            key=lambda x: (x[0], x[1]),
        )
        for _, kind, p in merged:
            target = vout if kind == 0 else others[p.stream.index]
            if shift:
                off = int(round(shift / p.time_base))
                if p.pts is not None:
                    p.pts -= off
                if p.dts is not None:
                    p.dts -= off
            p.stream = target
            out.mux(p)
        out.close()
    except BaseException:
        try:
            out.close()
        except Exception:
            pass
        raise
    return copied


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
