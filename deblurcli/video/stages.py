"""The video job: three concurrent stages, resumable segments, then the remux.

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

import os
import queue
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .decode import DecodeReport, _decoded, _expected_frames, damage
from .io import VideoError, VideoInfo, frame_to_planar, probe
from .policy import CODECS, VideoOptions, VideoResult, check_container, check_paths, choose_pix_fmt, work_dir
from .remux import assemble
from .segments import Manifest, SegmentWriter, fingerprint

os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its whole configuration otherwise
_END = object()


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
    """Deblur ``src`` into ``output``; see the module docstring. ``info``: the source's probe, if done.

    A damaged input (undecodable packets, fewer frames than the container declares) fails with a
    :class:`VideoError` and leaves nothing, unless ``opts.salvage``: then the readable frames are written and
    the result's ``damage`` says what was lost.
    """
    src, output = Path(src), Path(output)
    info = info or probe(src)
    check_paths(src, output, resume, overwrite)
    if opts.codec not in CODECS:
        raise VideoError(f"unsupported codec {opts.codec!r} (use {', '.join(CODECS)})")
    check_container(output, opts.codec)
    pix_fmt = choose_pix_fmt(opts.codec, info, opts.pix_fmt)
    parts = work_dir(output)
    try:
        parts.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VideoError(f"cannot write beside {output}: {e.strerror or e}") from None
    manifest = Manifest.load(parts / "manifest.json", fingerprint(src, opts, model_id))
    job = _Stages(src, info, opts, manifest, SegmentWriter(parts, manifest, info, opts, pix_fmt), run_model, on_frame)
    try:
        job.run()
    except BaseException as e:
        if not isinstance(e, KeyboardInterrupt) and not manifest.segments:
            shutil.rmtree(parts, ignore_errors=True)  # nothing finished: leave nothing behind
        raise
    result = VideoResult(
        output,
        manifest.done_frames,
        time.perf_counter() - job.t_start,
        job.model_s,
        job.skip,
        info,
        pix_fmt,
        interrupted=job.interrupted,
    )
    if job.interrupted:
        return result
    result.damage = damage(job.decoded, info, opts)
    if result.damage and not opts.salvage:
        shutil.rmtree(parts, ignore_errors=True)
        raise VideoError(f"{src}: damaged video, {result.damage}; nothing written (--salvage keeps what decodes)")
    if manifest.done_frames == 0:
        shutil.rmtree(parts, ignore_errors=True)
        raise VideoError(f"{src}: no frames in the asked span")
    result.copied_streams = assemble(src, output, parts, manifest, info, opts, job.first_pts or 0)
    shutil.rmtree(parts, ignore_errors=True)
    result.seconds = time.perf_counter() - job.t_start
    return result


class _Stages:
    """The decoder thread, the model in the calling thread and the encoder thread, joined by bounded queues."""

    def __init__(
        self,
        src: Path,
        info: VideoInfo,
        opts: VideoOptions,
        manifest: Manifest,
        writer: SegmentWriter,
        run_model: Callable[[np.ndarray], np.ndarray],
        on_frame: Callable[[int, int | None], None] | None,
        span: tuple[int | None, int | None] = (None, None),
    ) -> None:
        self.src, self.info, self.opts, self.writer, self.run_model = src, info, opts, writer, run_model
        self.span = span
        self.on_frame = on_frame
        self.skip = manifest.done_frames
        self.total = _expected_frames(info, opts) if span == (None, None) else None
        self.decoded = DecodeReport()
        self.first_pts: int | None = None
        self.stop = threading.Event()
        self.q_in: queue.Queue = queue.Queue(maxsize=4)
        self.q_out: queue.Queue = queue.Queue(maxsize=4)
        self.model_s = 0.0
        self.t_start = time.perf_counter()
        self.interrupted = False

    def decode(self) -> None:
        for i, (pts, frame) in enumerate(_decoded(self.src, self.info, self.opts, self.decoded, self.span)):
            if self.first_pts is None:
                self.first_pts = pts
            item = (i, pts, None if i < self.skip else frame_to_planar(frame, self.info))
            if not _put(self.q_in, item, self.stop):
                return
        _put(self.q_in, _END, self.stop)

    def encode(self) -> None:
        while True:
            item = _get(self.q_out, self.stop)
            if item is _END:
                break
            self.writer.write(*item)
        if not self.stop.is_set():
            self.writer.finish()

    def _model_loop(self, dec: _Worker, enc: _Worker) -> None:
        while True:
            item = _get(self.q_in, self.stop, dec)
            if item is _END or enc.error is not None:
                break
            i, pts, rgb = item
            if rgb is not None:
                t0 = time.perf_counter()
                out = self.run_model(rgb)
                self.model_s += time.perf_counter() - t0
                if not _put(self.q_out, (i, pts, out), self.stop):
                    break
            if self.on_frame:
                self.on_frame(i + 1, self.total)

    def run(self) -> None:
        dec, enc = _Worker(self.decode), _Worker(self.encode)
        dec.start()
        enc.start()
        try:
            self._model_loop(dec, enc)
            if dec.error is None and enc.error is None:
                _put(self.q_out, _END, self.stop)
                enc.join()
            else:
                self.stop.set()
        except KeyboardInterrupt:
            self.interrupted = True
            self.stop.set()
        except BaseException:
            self.stop.set()
            raise
        finally:
            dec.join()
            enc.join()
            if self.stop.is_set():
                self.writer.abandon()
        for w in (dec, enc):
            if w.error is not None:
                raise w.error if isinstance(w.error, VideoError) else VideoError(f"{self.src}: {w.error}")
