"""One registry from a model name to its builder, frozen config and named variants.

Modelled on timm's ``register_model`` / ``create_model``: the CLI takes its
choices from here, never from a hand-kept list.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch.nn as nn

from ..errors import UnknownModel


@dataclass(frozen=True)
class ModelSpec:
    """Everything the tool knows about one architecture."""

    name: str
    builder: Callable[[Any], nn.Module]
    config_cls: type
    variants: Mapping[str, Any]
    default_variant: str
    summary: str

    def config(self, variant: str | None = None, **overrides: Any) -> Any:
        variant = variant or self.default_variant
        if variant not in self.variants:
            raise UnknownModel(f"model {self.name!r} has no variant {variant!r} (variants: {', '.join(self.variants)})")
        cfg = self.variants[variant]
        return dataclasses.replace(cfg, **overrides) if overrides else cfg


@dataclass(frozen=True)
class TiledConfig:
    """What every model config holds for inference: default tile and overlap.

    Subclasses add their architecture's fields and a ``pad_multiple``
    property (what input sizes must divide by).
    """

    tile: int = 256
    overlap: int = 32


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    config_cls: type,
    variants: Mapping[str, Any],
    default_variant: str,
    summary: str,
) -> Callable[[Callable[[Any], nn.Module]], Callable[[Any], nn.Module]]:
    """Decorator: register ``builder(config) -> nn.Module`` under ``name``."""
    if default_variant not in variants:
        raise ValueError(f"default variant {default_variant!r} not among {list(variants)}")

    def wrap(builder: Callable[[Any], nn.Module]) -> Callable[[Any], nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        _REGISTRY[name] = ModelSpec(
            name=name,
            builder=builder,
            config_cls=config_cls,
            variants=dict(variants),
            default_variant=default_variant,
            summary=summary,
        )
        return builder

    return wrap


def model_names() -> list[str]:
    return list(_REGISTRY)


def get_spec(name: str) -> ModelSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownModel(f"unknown model {name!r} (known: {', '.join(_REGISTRY)})") from None


def create_model(name: str, variant: str | None = None, config: Any = None) -> nn.Module:
    """Build a model by name from a variant or an explicit config."""
    spec = get_spec(name)
    cfg = config if config is not None else spec.config(variant)
    return spec.builder(cfg)


def config_to_json(config: Any) -> str:
    return json.dumps(dataclasses.asdict(config), sort_keys=True)


MAX_INT = 4096  # no size, count or width of a real configuration comes near this


def _check_value(name: str, field: str, value: Any, default: Any) -> Any:
    """``value`` for a config field whose default is ``default``: the same type, within sane ranges."""
    where = f"config for {name!r}: {field}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be true or false, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where} must be an integer, got {value!r}")
        if not 0 <= value <= MAX_INT:
            raise ValueError(f"{where} = {value} is out of range (0..{MAX_INT})")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1e3:
            raise ValueError(f"{where} must be a number in 0..1000, got {value!r}")
        return float(value)
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or len(value) > 16:
            raise ValueError(f"{where} must be a list of at most 16 integers, got {value!r}")
        return tuple(_check_value(name, f"{field}[{i}]", v, default[0] if default else 0) for i, v in enumerate(value))
    if isinstance(default, str):
        if not isinstance(value, str) or len(value) > 200:
            raise ValueError(f"{where} must be a short string, got {value!r}")
        return value
    return value


def config_from_json(name: str, text: str) -> Any:
    """Rebuild a frozen config from JSON, checked against the architecture's schema: known fields, the
    defaults' types, sane ranges (a checkpoint's metadata is untrusted input)."""
    spec = get_spec(name)
    try:
        raw = json.loads(text)
    except ValueError as e:
        raise ValueError(f"config for {name!r} is not JSON: {e}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"config for {name!r} must be a JSON object")
    fields = {f.name: f for f in dataclasses.fields(spec.config_cls)}
    unknown = set(raw) - set(fields)
    if unknown:
        raise ValueError(f"config for {name!r} has unknown fields: {sorted(unknown)}")
    default = spec.config()
    fixed = {k: _check_value(name, k, v, getattr(default, k)) for k, v in raw.items()}
    return spec.config_cls(**fixed)


def variant_of(name: str, config: Any) -> str | None:
    """The variant name whose config equals ``config``, if any."""
    for vname, vcfg in get_spec(name).variants.items():
        if vcfg == config:
            return vname
    return None
