"""Deblurring architectures, each in its own module, all in one registry."""

from importlib import import_module

from ..catalog import ARCHITECTURES
from .registry import (
    ModelSpec,
    config_from_json,
    config_to_json,
    create_model,
    get_spec,
    model_names,
    variant_of,
)

for _module in ARCHITECTURES:  # each module registers its model
    import_module(f"{__name__}.{_module}")

__all__ = [
    "ModelSpec",
    "config_from_json",
    "config_to_json",
    "create_model",
    "get_spec",
    "model_names",
    "variant_of",
]
