"""HEIC/HEIF photos (what iPhones have saved by default since 2017), through pillow-heif (libheif: libde265
decodes, x265 encodes).

Decoded pixels are upright (libheif applies the file's rotation and mirroring, which HEIF stores as transforms,
not as an EXIF tag to obey), 8-bit stays 8-bit and 10/12-bit comes back as 16-bit, like a 16-bit PNG. Written
HEIC is 8-bit, or 10-bit from 16-bit pixels, at quality 90, with the ICC profile and EXIF of
:mod:`deblurcli.metadata`, and is decoded once more before it is written: a file libheif cannot read back is an
error, never an output.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from .errors import ImageError, last_line
from .metadata import EXIF_HEADER, Metadata

HEIF_EXTS = (".heic", ".heif")
# ISO/IEC 23008-12 brands of HEVC-coded still images and sequences, and the structural brands they use
_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
QUALITY = 90
# (channels, sample type) -> pillow-heif's mode
_MODES = {(1, np.uint8): "L", (3, np.uint8): "RGB", (4, np.uint8): "RGBA", (1, np.uint16): "L;16"}
_MODES.update({(3, np.uint16): "RGB;16", (4, np.uint16): "RGBA;16"})


def is_heif(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] in _BRANDS


def _lib() -> Any:
    try:
        import pillow_heif
    except ImportError:  # a dependency of deblurcli; this is for an install that lost it
        raise ImageError("reading or writing HEIC needs pillow-heif (pip install pillow-heif)") from None
    return pillow_heif


def _open(data: bytes) -> Any:
    return _lib().open_heif(io.BytesIO(data), convert_hdr_to_8bit=False)


def heif_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of the primary image from the header, None when it cannot be parsed."""
    try:
        return tuple(int(v) for v in _open(data).size)  # type: ignore[return-value]
    except Exception:
        return None


def decode_heif(data: bytes) -> np.ndarray:
    """The primary image, upright: (H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA, uint8 or uint16."""
    try:
        img = np.asarray(_open(data))
    except ImageError:
        raise
    except Exception as e:
        raise ImageError(f"cannot decode HEIF data: {last_line(e, 'decoder error')}") from None
    return np.ascontiguousarray(img)


def heif_metadata(data: bytes) -> Metadata:
    """The ICC profile and raw EXIF block (with its header, as stored) of the primary image."""
    try:
        info = _open(data).info
    except Exception:
        return Metadata()
    icc, exif = info.get("icc_profile"), info.get("exif")
    return Metadata(icc if isinstance(icc, bytes) and icc else None, exif if isinstance(exif, bytes) and exif else None)


def encode_heif(img: np.ndarray, meta: Metadata | None = None) -> bytes:
    """HEIC bytes of ``img`` (as :func:`decode_heif` returns), with ``meta``; checked by decoding them."""
    channels = 1 if img.ndim == 2 else img.shape[2] if img.ndim == 3 else 0
    mode = _MODES.get((channels, img.dtype.type))
    if mode is None:
        raise ImageError(f"cannot encode a {img.dtype} image of shape {img.shape} as HEIC")
    lib = _lib()
    h, w = img.shape[:2]
    kwargs: dict[str, Any] = {"quality": QUALITY}
    if meta and meta.exif:
        kwargs["exif"] = EXIF_HEADER + meta.exif
    if meta and meta.icc:
        kwargs["icc_profile"] = meta.icc
    buf = io.BytesIO()
    try:
        lib.from_bytes(mode, (w, h), np.ascontiguousarray(img).tobytes()).save(buf, **kwargs)
        data = buf.getvalue()
        back = np.asarray(_open(data))  # decodes: libheif must be able to read what it wrote
        if back.shape[:2] != (h, w):
            raise ValueError(f"it read back as {back.shape[1]}x{back.shape[0]}")
    except Exception as e:
        raise ImageError(f"cannot encode as HEIC ({last_line(e, 'encoder error')}); try --format png or jpg") from None
    return data
