"""Resumable segments: the manifest of finished segments and the encoder that fills them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_json
from .io import UNSPECIFIED, VideoError, VideoInfo, effective_tags, planar_to_frame
from .policy import VideoOptions


class Manifest:
    """What is finished, for --resume: per segment, its first frame and frame count."""

    def __init__(self, path: Path, fingerprint: str) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self.segments: list[dict[str, Any]] = []
        self.complete: dict[str, Any] | None = None  # a split video's part: what its decoder met, once finished

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
            m.complete = doc.get("complete")
        return m

    def add(self, entry: dict[str, Any]) -> None:
        self.segments.append(entry)
        write_json(self.path, {"fingerprint": self.fingerprint, "segments": self.segments})

    def mark_complete(self, facts: dict[str, Any]) -> None:
        """A split video's part is finished: every segment written; ``facts`` (decoded frames, errors) kept."""
        self.complete = facts
        write_json(self.path, {"fingerprint": self.fingerprint, "segments": self.segments, "complete": facts})

    def mark_assembled(self) -> None:
        """Recorded just before the output's final rename: a leftover work folder with this mark is stale."""
        write_json(self.path, {"fingerprint": self.fingerprint, "segments": self.segments, "assembled": True})

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


class SegmentWriter:
    """Encodes frames into segment files, one manifest entry per finished segment."""

    def __init__(self, parts: Path, manifest: Manifest, info: VideoInfo, opts: VideoOptions, pix_fmt: str) -> None:
        self.parts, self.manifest, self.info, self.opts, self.pix_fmt = parts, manifest, info, opts, pix_fmt
        self.container: Any = None
        self.stream: Any = None
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

    def _failed(self, e: Exception) -> VideoError:
        reason = getattr(e, "strerror", None) or str(e).strip().splitlines()[0]
        return VideoError(
            f"the {self.opts.codec} encoder failed ({self.pix_fmt}, {self.info.width}x{self.info.height}): {reason}"
        )

    def write(self, index: int, pts: int, rgb: np.ndarray) -> None:
        import av

        try:
            self._write(index, pts, rgb)
        except (av.FFmpegError, OSError) as e:
            raise self._failed(e) from None

    def _write(self, index: int, pts: int, rgb: np.ndarray) -> None:
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
        import av

        try:
            self._finish()
        except (av.FFmpegError, OSError) as e:
            raise self._failed(e) from None

    def _finish(self) -> None:
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
