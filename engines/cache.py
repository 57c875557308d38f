"""Where built engines live and how one is recognised.

A built engine is only valid for exactly what it was built from and for:
the model, its weights, the tile shape (or shape range), the batch, the
precision, the back end and its version, and for TensorRT the GPU and its
compute capability. All of that is the :class:`EngineKey`; the file name
carries a readable summary plus a hash of the whole key, and a JSON sidecar
beside it holds the key in full along with how the build was verified (the
vs-mlrt convention). Looking an engine up is recomputing the key and checking
that the file exists.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from deblurcli.tiling import round_up

DEFAULT_OPSET = 18  # the ONNX opset engines are exported at
SUFFIX = {"onnxruntime": ".onnx", "openvino": ".ov.onnx", "tensorrt": ".engine"}
TAG = {"onnxruntime": "ort", "openvino": "ov", "tensorrt": "trt"}


def cache_dir() -> Path:
    """``$DEBLURCLI_ENGINE_DIR``, else ``$XDG_CACHE_HOME/deblurcli/engines`` (``~/.cache`` by default)."""
    if os.environ.get("DEBLURCLI_ENGINE_DIR"):
        return Path(os.environ["DEBLURCLI_ENGINE_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "deblurcli" / "engines"


def file_digest(path: Path, length: int = 16) -> str:
    """SHA-256 of a file's bytes, shortened: the weights part of the key."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:length]


@dataclass(frozen=True)
class ShapeRange:
    """Tile shapes an engine accepts: (batch, height, width) for min, opt and max."""

    min: tuple[int, int, int]
    opt: tuple[int, int, int]
    max: tuple[int, int, int]

    @property
    def static(self) -> bool:
        return self.min == self.opt == self.max

    def accepts(self, batch: int, height: int, width: int) -> bool:
        return all(lo <= v <= hi for lo, v, hi in zip(self.min, (batch, height, width), self.max))

    def tag(self) -> str:
        if self.static:
            b, h, w = self.opt
            return f"b{b}-{h}x{w}"
        return "dyn-" + "-".join("x".join(map(str, s)) for s in (self.min, self.opt, self.max))


def plan_shapes(tile: int, batch: int, multiple: int, dynamic: str | None = None) -> ShapeRange:
    """The shape range to export and build for.

    ``tile`` is rounded up to the model's pad multiple (what the tiler feeds).
    Static by default. ``dynamic`` is ``"MIN:OPT:MAX"`` tile sizes (square,
    each rounded up to the multiple), for engines that also serve images
    smaller than a tile or several tile sizes; the batch then ranges 1..batch.
    """
    if tile < 1 or batch < 1 or multiple < 1:
        raise ValueError("tile, batch and multiple must be positive")
    t = round_up(tile, multiple)
    if not dynamic:
        return ShapeRange((batch, t, t), (batch, t, t), (batch, t, t))
    parts = dynamic.split(":")
    if len(parts) != 3 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"shape range must be MIN:OPT:MAX tile sizes in pixels, got {dynamic!r}")
    lo, opt, hi = (round_up(int(p), multiple) for p in parts)
    if not lo <= opt <= hi:
        raise ValueError(f"shape range {dynamic!r} must satisfy MIN <= OPT <= MAX")
    if not lo <= t <= hi:
        raise ValueError(f"tile {t} is outside the shape range {lo}..{hi}")
    return ShapeRange((1, lo, lo), (batch, opt, opt), (batch, hi, hi))


def models_dir() -> Path:
    """``deblurcli/models``, found without importing it (that imports torch)."""
    import deblurcli

    return Path(deblurcli.__file__).parent / "models"


@functools.cache
def model_code_digest() -> str:
    """SHA-256 of the source of every model definition (``deblurcli/models/*.py``), shortened."""
    h = hashlib.sha256()
    for f in sorted(models_dir().glob("*.py")):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:12]


@dataclass(frozen=True)
class EngineKey:
    """Everything that, when it changes, makes a built engine invalid."""

    backend: str  # "onnxruntime" | "tensorrt"
    backend_version: str
    arch: str
    variant: str
    weights: str  # digest of the weights file
    shapes: ShapeRange
    precision: str  # fp32 | fp16 | bf16
    device: str = "cpu"  # GPU name for TensorRT, "cpu" or the ORT provider otherwise
    compute_capability: str = ""  # "8.9" for TensorRT
    opset: int = DEFAULT_OPSET
    # the code that exported the graph: a new deblurcli (model code) or torch (exporter) invalidates an engine
    deblurcli_version: str = field(default_factory=lambda: _deblurcli_version())
    torch_version: str = field(default_factory=lambda: _torch_version())
    # the model definitions themselves, so a change to how a model computes (even the same numbers in a
    # faster graph) rebuilds engines between releases too
    model_code: str = field(default_factory=lambda: model_code_digest())

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["shapes"] = {k: list(v) for k, v in asdict(self.shapes).items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EngineKey:
        d = dict(d)
        # sidecars written before the versions (or the model code) were keyed
        for k in ("deblurcli_version", "torch_version", "model_code"):
            d.setdefault(k, "unknown")
        s = d.pop("shapes")
        return cls(shapes=ShapeRange(*(tuple(s[k]) for k in ("min", "opt", "max"))), **d)

    def digest(self) -> str:
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    def device_slug(self) -> str:
        """The device part of the key, for files shared by engines of one GPU (the timing cache)."""
        return f"{_slug(self.device)}-sm{self.compute_capability.replace('.', '')}-trt{self.backend_version}"

    def filename(self) -> str:
        """Readable summary of the key, then the hash of all of it."""
        parts = [
            self.arch,
            self.variant,
            self.weights[:8],
            self.shapes.tag(),
            self.precision,
            f"{TAG[self.backend]}{self.backend_version}",
        ]
        if self.backend == "tensorrt":
            parts += [_slug(self.device), f"sm{self.compute_capability.replace('.', '')}"]
        return "-".join(parts + [self.digest()]) + SUFFIX[self.backend]


def _deblurcli_version() -> str:
    from deblurcli import __version__

    return __version__


def _torch_version() -> str:
    """``torch.__version__``, read from torch's ``version.py`` when torch is not imported: opening a cached
    engine must not import torch (648 MB and 2.6 s here)."""
    import sys

    if "torch" in sys.modules:
        return str(sys.modules["torch"].__version__)
    import importlib.util

    spec = importlib.util.find_spec("torch")
    if spec and spec.submodule_search_locations:
        version_py = Path(next(iter(spec.submodule_search_locations))) / "version.py"
        found = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", _read(version_py), re.M)
        if found:
            return found.group(1)
    import torch

    return torch.__version__


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "gpu"


def sidecar(engine_path: Path) -> Path:
    return engine_path.with_name(engine_path.name + ".json")


def write_sidecar(engine_path: Path, key: EngineKey, extra: dict[str, Any]) -> Path:
    from deblurcli.images import write_json_atomic

    info = {"key": key.to_dict(), "digest": key.digest(), "engine": engine_path.name, **extra}
    path = sidecar(engine_path)
    write_json_atomic(path, info)
    return path


def read_sidecar(engine_path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(sidecar(engine_path).read_text())
    except (OSError, ValueError):
        return None


def find_engine(key: EngineKey, directory: Path | None = None) -> Path | None:
    """The built engine for ``key`` in ``directory`` (default: the cache), if it was built and verified."""
    path = (directory or cache_dir()) / key.filename()
    info = read_sidecar(path)
    if path.is_file() and info and info.get("digest") == key.digest() and info.get("verified"):
        return path
    return None


def near_misses(key: EngineKey, directory: Path | None = None) -> list[tuple[Path, list[str]]]:
    """Engines for the same model that do not match, and which parts of the key differ."""
    d = directory or cache_dir()
    if not d.is_dir():
        return []
    want = key.to_dict()
    out = []
    for side in sorted(d.glob(f"{key.arch}-*{SUFFIX[key.backend]}.json")):
        try:
            have = json.loads(side.read_text())["key"]
        except (OSError, ValueError, KeyError):
            continue
        diff = [k for k in want if have.get(k) != want[k]]
        if diff:
            out.append((side.with_name(side.name[:-5]), diff))
    return out


def failure_marker(key: EngineKey, directory: Path | None = None) -> Path:
    """Where ``--engine auto`` records that this exact key could not be built (``NAME.failed.json``)."""
    return (directory or cache_dir()) / (key.filename() + ".failed.json")


def known_failure(key: EngineKey, directory: Path | None = None) -> str | None:
    """Why building ``key`` failed before (the same model, weights, shapes and versions), or None."""
    try:
        return str(json.loads(failure_marker(key, directory).read_text())["reason"])
    except (OSError, ValueError, KeyError):
        return None


def remember_failure(key: EngineKey, reason: str, directory: Path | None = None) -> None:
    """Record a failed build so ``--engine auto`` does not retry it on every run (naming the back end
    explicitly, or deleting the file, tries again). Best effort: a read-only cache just retries."""
    from deblurcli.images import write_json_atomic

    try:
        failure_marker(key, directory).parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(failure_marker(key, directory), {"key": key.to_dict(), "reason": reason})
    except OSError:
        pass
