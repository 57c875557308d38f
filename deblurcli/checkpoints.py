"""Checkpoints: the project's self-describing safetensors, and torch .pth files.

The project's format is ``.safetensors`` with string metadata: ``format``,
``arch``, ``variant``, ``config`` (JSON), ``training_data``, ``steps``,
``val_psnr``, ``val_ssim`` and free-form extras. It is read without pickle,
and the model is rebuilt from the file alone.

``torch.save`` files (the origin study's notebook dicts with
``model_state_dict``, BasicSR's ``params``/``params_ema``, bare state dicts)
are read with ``torch.load(weights_only=True)``: never unrestricted pickle.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError
from .model_fit import _allocate_checked, _mismatch, match_architecture  # noqa: F401 (match_architecture: API)
from .models import config_from_json, config_to_json, create_model, get_spec, model_names, variant_of

FORMAT = "deblurcli"
FORMAT_VERSION = "1"


@dataclass
class Checkpoint:
    path: Path
    kind: str  # "safetensors" or "torch"
    state_dict: dict[str, torch.Tensor]
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def arch(self) -> str | None:
        return self.metadata.get("arch")

    def config(self) -> Any | None:
        if "config" not in self.metadata or not self.arch:
            return None
        try:
            return config_from_json(self.arch, self.metadata["config"])
        except (KeyError, ValueError, TypeError) as e:
            raise CheckpointError(f"{self.path}: metadata config does not fit {self.arch!r}: {e}") from None


def sniff(path: Path) -> str:
    """Tell a safetensors file from a torch file by content, not by name."""
    try:
        with open(path, "rb") as f:
            head = f.read(9)
            size = path.stat().st_size
    except IsADirectoryError:
        raise CheckpointError(f"weights {path} is a directory, expected a checkpoint file") from None
    except OSError as e:
        raise CheckpointError(f"cannot read weights {path}: {e.strerror or e}") from None
    # safetensors first: its 8-byte header length may well start with 0x80
    if len(head) == 9:
        (n,) = struct.unpack("<Q", head[:8])
        if head[8:9] == b"{" and 8 + n <= size:
            return "safetensors"
    if head[:4] == b"PK\x03\x04" or head[:1] == b"\x80":  # zip (torch >= 1.6) or a pickle
        return "torch"
    found = "an empty file" if size == 0 else _describe(head)
    raise CheckpointError(
        f"{path} is not a checkpoint: expected a .safetensors file or a torch .pth state dict, found {found}"
    )


def _describe(head: bytes) -> str:
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff")):
        return "an image"
    try:
        head.decode("ascii")
        return "text"
    except UnicodeDecodeError:
        return "unknown binary data"


_NUMPY_SAFE: list[Any] | None = None


def _numpy_safe_globals() -> list[Any]:
    """numpy scalars (the study stored its PSNR as np.float64) are plain data."""
    global _NUMPY_SAFE
    if _NUMPY_SAFE is None:
        import numpy as np

        core = getattr(np, "_core", None) or np.core  # numpy 2 renamed numpy.core to numpy._core
        scalar = core.multiarray.scalar
        items: list[Any] = [np.dtype, (scalar, "numpy.core.multiarray.scalar"), scalar]
        dtypes = getattr(np, "dtypes", None)  # numpy >= 1.25; 1.24 pickles dtypes as np.dtype alone
        for name in ("Float64DType", "Float32DType", "Int64DType", "Int32DType"):
            if dtypes is not None and hasattr(dtypes, name):
                items.append(getattr(dtypes, name))
        _NUMPY_SAFE = items
    return _NUMPY_SAFE


def _state_dict_of(obj: Any, path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    meta: dict[str, str] = {}
    if isinstance(obj, Mapping):
        for key in ("model_state_dict", "state_dict", "params_ema", "params", "model"):
            inner = obj.get(key)
            if isinstance(inner, Mapping) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                for k in ("epoch", "psnr", "ssim", "step", "iter"):
                    if k in obj and not isinstance(obj[k], (Mapping, torch.Tensor)):
                        meta[f"source_{k}"] = str(float(obj[k]) if k in ("psnr", "ssim") else obj[k])
                obj = inner
                break
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            sd = {k.removeprefix("module."): v for k, v in obj.items()}
            return sd, meta
    raise CheckpointError(
        f"{path} holds no model weights: expected a state dict or a dict with 'model_state_dict', "
        f"found {type(obj).__name__}" + (f" with keys {sorted(map(str, obj))[:6]}" if isinstance(obj, Mapping) else "")
    )


def read_checkpoint(path: str | Path) -> Checkpoint:
    path = Path(path)
    kind = sniff(path)
    if kind == "safetensors":
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                metadata = dict(f.metadata() or {})
                # "_train/..." tensors (optimiser moments, EMA, RNG) are for resuming, not inference
                sd = {k: f.get_tensor(k) for k in f.keys() if not k.startswith("_train/")}
        except (SafetensorError, OSError, ValueError) as e:
            raise CheckpointError(f"{path} is a damaged safetensors file: {e}") from None
        return Checkpoint(path, kind, sd, metadata)
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for bad or unsafe pickles
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if "Weights only load failed" in reason or "Unsupported global" in str(e):
            reason = "it needs code to load (unsafe pickle), which deblurcli refuses"
        raise CheckpointError(f"cannot load {path} as torch weights: {reason}") from None
    sd, meta = _state_dict_of(obj, path)
    meta["source"] = path.name
    return Checkpoint(path, kind, sd, meta)


def save_checkpoint(
    path: str | Path,
    state_dict: Mapping[str, torch.Tensor],
    arch: str,
    config: Any,
    *,
    half: bool = False,
    **metadata: Any,
) -> Path:
    """Write a self-describing safetensors checkpoint, atomically."""
    from safetensors.torch import save_file

    path = Path(path)
    get_spec(arch)
    tensors = {}
    for k, v in state_dict.items():
        t = v.detach().cpu().contiguous()
        if half and t.is_floating_point():
            t = t.half()
        tensors[k] = t
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "arch": arch,
        "variant": variant_of(arch, config) or "custom",
        "config": config_to_json(config),
        "dtype": "fp16" if half else "fp32",
    }
    for k, v in metadata.items():
        if v is not None:
            meta[k] = v if isinstance(v, str) else json.dumps(v)
    from .atomic import atomic_path

    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path


def build_model(
    ckpt: Checkpoint, arch: str | None = None, variant: str | None = None
) -> tuple[torch.nn.Module, str, str, Any]:
    """Rebuild the model a checkpoint describes and load its weights strictly.

    ``arch``/``variant`` are what the user asked for (``-m``); they must agree
    with the file's metadata when it has any. A metadata-less torch file is
    matched against every registered variant by parameter names and shapes.
    """
    if ckpt.arch:
        if arch and arch != ckpt.arch:
            raise CheckpointError(
                f"{ckpt.path.name} holds weights for {ckpt.arch!r}, not {arch!r}; drop -m or pass weights for {arch}"
            )
        name, cfg = ckpt.arch, ckpt.config()
        if cfg is None:
            cfg = get_spec(name).config(ckpt.metadata.get("variant"))
        vname = ckpt.metadata.get("variant") or variant_of(name, cfg) or "custom"
        if variant and variant != vname:
            raise CheckpointError(f"{ckpt.path.name} holds {name} variant {vname!r}, not {variant!r}")
    else:
        found = match_architecture(ckpt.state_dict)
        if arch:
            spec = get_spec(arch)
            if found and found[0] == arch and (variant is None or variant == found[1]):
                name, vname, cfg = found
            else:
                name, vname = arch, variant or spec.default_variant
                cfg = spec.config(vname)
                model = create_model(name, config=cfg)
                hint = f"; they fit {found[0]} ({found[1]})" if found else ""
                raise CheckpointError(
                    f"{ckpt.path.name} does not fit {name} ({vname}): {_mismatch(model, ckpt.state_dict)}{hint}"
                )
        elif found:
            name, vname, cfg = found
        else:
            raise CheckpointError(
                f"{ckpt.path.name}: its weights fit no registered model variant "
                f"({', '.join(model_names())}); pass -m and --variant for a custom build"
            )
    model = _allocate_checked(ckpt, name, vname, cfg)
    sd = {k: v.float() if v.is_floating_point() else v for k, v in ckpt.state_dict.items()}
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError:
        raise CheckpointError(f"{ckpt.path.name} does not fit {name} ({vname}): {_mismatch(model, sd)}") from None
    return model, name, vname, cfg
