"""Deblurring architectures, each in its own module, all in one registry."""
from . import efficientnet_b4, nafnet, resunet, uptimus, vgg19  # noqa: F401  (registers the models)
from .registry import (
    ModelSpec,
    config_from_json,
    config_to_json,
    create_model,
    get_spec,
    model_names,
    variant_of,
)

__all__ = [
    "ModelSpec",
    "config_from_json",
    "config_to_json",
    "create_model",
    "get_spec",
    "model_names",
    "variant_of",
]
