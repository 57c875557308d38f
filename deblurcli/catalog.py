"""The names of everything a user can choose, importable without torch.

``deblurcli --help`` and ``--version`` must answer in well under a second, so
their choice lists cannot import the models (torch, torchvision: seconds).
This is the one list of architecture modules: :mod:`deblurcli.models`
imports exactly these to fill the registry, and a test checks that the
registry's names are these, in this order.
"""

from __future__ import annotations

# one module per architecture under deblurcli/models/, each registering the model of the same name
ARCHITECTURES: tuple[str, ...] = ("efficientnet_b4", "nafnet", "resunet", "uptimus", "vgg19")


def architecture_names() -> list[str]:
    return list(ARCHITECTURES)


# each architecture's default variant (the registry's; a test checks they agree), for finding shipped weights
# without importing the models
DEFAULT_VARIANTS: dict[str, str] = {
    "efficientnet_b4": "default", "nafnet": "small", "resunet": "small", "uptimus": "default", "vgg19": "default"
}  # fmt: skip


# inference back ends (--engine), what build-engine compiles to (--target), compute precisions
ENGINE_NAMES: tuple[str, ...] = ("auto", "torch", "openvino", "onnxruntime", "tensorrt")
BUILD_TARGETS: dict[str, str] = {"openvino": "openvino", "onnx": "onnxruntime", "tensorrt": "tensorrt"}
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "fp16", "bf16")
# video encoders (--codec) and image output formats (--format)
VIDEO_CODECS: tuple[str, ...] = ("libx264", "libx265", "libsvtav1", "libvpx-vp9", "ffv1")
IMAGE_FORMATS: tuple[str, ...] = ("same", "png", "jpg")
