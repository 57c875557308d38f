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


def config_from_json(name: str, text: str) -> Any:
    """Rebuild a frozen config from JSON (lists become tuples again)."""
    spec = get_spec(name)
    raw = json.loads(text)
    fields = {f.name for f in dataclasses.fields(spec.config_cls)}
    unknown = set(raw) - fields
    if unknown:
        raise ValueError(f"config for {name!r} has unknown fields: {sorted(unknown)}")
    fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    return spec.config_cls(**fixed)


def variant_of(name: str, config: Any) -> str | None:
    """The variant name whose config equals ``config``, if any."""
    for vname, vcfg in get_spec(name).variants.items():
        if vcfg == config:
            return vname
    return None
