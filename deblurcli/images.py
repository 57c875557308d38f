"""Reading and writing still images without losing what the user had.

8-bit stays 8-bit, 16-bit stays 16-bit, alpha and grayscale are kept, and
EXIF orientation is applied on read (the written pixels are upright; a
carried EXIF block says so, :mod:`deblurcli.metadata`). Colour images are
returned in RGB(A) order. Writes go to a temporary name in the target folder
and are renamed when complete.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import cv2
import numpy as np

from .atomic import write_bytes
from .errors import ImageError, last_line
from .heif import HEIF_EXTS, decode_heif, encode_heif, heif_size, is_heif
from .metadata import Metadata, embed

# OpenCV logs its own warnings for damaged files ("PNG input buffer is
# incomplete"); deblurcli reports each bad file in one line of its own
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
# nor Pillow's, for a damaged EXIF block (the image is read; its orientation is taken as upright, no EXIF carried)
warnings.filterwarnings("ignore", message="(?i)corrupt exif", category=UserWarning)

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", *HEIF_EXTS)

_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"BM": "BMP",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
    b"RIFF": "WEBP",
}


def _kind(data: bytes) -> str:
    if is_heif(data):
        return "HEIF"
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            return kind
    if not data:
        return "an empty file"
    try:
        data[:256].decode("utf-8")
        return "text"
    except UnicodeDecodeError:
        return "unknown data"


_EXTS = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "TIFF": ".tif", "HEIF": ".heic"}


def image_extension(data: bytes) -> str | None:
    """The extension of the image format ``data`` starts like (``.png``, ``.jpg``, ...), None for anything else."""
    kind = _kind(data)
    if kind == "WEBP":
        return ".webp" if data[8:12] == b"WEBP" else None  # RIFF also holds WAV and AVI
    return _EXTS.get(kind)


def _orientation(data: bytes) -> int:
    """The EXIF orientation tag (1-8), 1 when absent or unreadable."""
    try:
        import io

        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            value = im.getexif().get(0x0112, 1)
        return int(value) if 1 <= int(value) <= 8 else 1
    except Exception:  # a missing or broken EXIF block must not fail the read
        return 1


def apply_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels upright, as EXIF ``orientation`` says (TIFF/EXIF spec)."""
    if orientation == 2:
        return img[:, ::-1]
    if orientation == 3:
        return img[::-1, ::-1]
    if orientation == 4:
        return img[::-1]
    if orientation == 5:
        return img.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(img, k=-1)
    if orientation == 7:
        return img[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(img, k=1)
    return img


MAX_PIXELS_DEFAULT = 250_000_000  # 250 megapixels, e.g. 20000 x 12500


def max_pixels() -> int:
    """The largest image deblurcli decodes: 250 MP, or $DEBLURCLI_MAX_PIXELS."""
    try:
        return int(os.environ.get("DEBLURCLI_MAX_PIXELS", MAX_PIXELS_DEFAULT))
    except ValueError:
        return MAX_PIXELS_DEFAULT


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the file's header, without decoding pixels (None when unknown)."""
    import io

    from PIL import Image

    if is_heif(data):
        return heif_size(data)
    try:
        with Image.open(io.BytesIO(data)) as im:  # reads the header only
            return int(im.size[0]), int(im.size[1])
    except Exception:  # PIL's own bomb check, unknown formats: OpenCV decides below
        if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:  # IHDR, for what PIL refuses
            return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        return None


def check_pixel_limit(data: bytes) -> None:
    """Refuse a file whose header declares more pixels than :func:`max_pixels`, before decoding it."""
    size = header_size(data)
    if size and size[0] * size[1] > max_pixels():
        raise ImageError(
            f"{size[0]}x{size[1]} is {size[0] * size[1] / 1e6:.0f} megapixels, over the limit of "
            f"{max_pixels() / 1e6:.0f} (set DEBLURCLI_MAX_PIXELS to raise it)"
        )


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image to (H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA, uint8 or uint16."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ImageError(f"cannot read: {e.strerror or e}") from None
    check_pixel_limit(data)
    if is_heif(data):  # upright as decoded (HEIF's rotation is a transform libheif applies), RGB already
        return decode_heif(data)
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    except cv2.error as e:  # OpenCV raises (instead of returning None) for some damaged or huge files
        raise ImageError(f"cannot decode {_kind(data)} data: {last_line(e, 'decoder error')}") from None
    if img is None:
        kind = _kind(data)
        ext = path.suffix.lower().lstrip(".") or "image"
        if kind in ("text", "an empty file", "unknown data"):
            raise ImageError(f"not a valid {ext.upper()} image: {kind}")
        raise ImageError(f"cannot decode {kind} data (truncated or corrupt)")
    if img.dtype not in (np.uint8, np.uint16):
        raise ImageError(f"unsupported sample type {img.dtype} (8- and 16-bit images are supported)")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 3:
        code = cv2.COLOR_BGRA2RGBA if img.shape[2] == 4 else cv2.COLOR_BGR2RGB
        img = cv2.cvtColor(img, code)
    orientation = 1 if _kind(data) == "BMP" else _orientation(data)  # BMP has no EXIF
    return np.ascontiguousarray(apply_orientation(img, orientation))


def encode_image(img: np.ndarray, ext: str) -> bytes:
    ext = ext.lower()
    if ext in HEIF_EXTS:
        return encode_heif(img)
    if img.ndim == 3:
        code = cv2.COLOR_RGBA2BGRA if img.shape[2] == 4 else cv2.COLOR_RGB2BGR
        img = cv2.cvtColor(img, code)
    params: list[int] = []
    if ext in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, 95]
    elif ext == ".png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, 3]
    elif ext == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, 101]  # above 100: lossless
    ok, buf = cv2.imencode(ext, img, params)
    if not ok:
        raise ImageError(f"cannot encode {img.dtype} image as {ext}")
    return buf.tobytes()


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` atomically (see :mod:`deblurcli.atomic`); an OSError becomes a one-line ImageError."""
    try:
        write_bytes(path, data)
    except OSError as e:
        raise ImageError(f"cannot write {path}: {e.strerror or e}") from None


def write_json_atomic(path: str | Path, doc: object) -> None:
    """A JSON report, indented, atomically; an OSError becomes a one-line error. ``-`` is standard output (which
    progress and summaries leave alone: they go to standard error)."""
    import json
    import sys

    text = json.dumps(doc, indent=2) + "\n"
    if str(path) == "-":
        if sys.stdout is None:
            raise ImageError("cannot write the report: standard output is closed")
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except OSError as e:  # a closed pipe, a full disk behind a redirect
            raise ImageError(f"cannot write the report to standard output: {e.strerror or e}") from None
        return
    write_atomic(path, text.encode())


def write_image(path: str | Path, img: np.ndarray, meta: Metadata | None = None) -> int:
    """Encode by the file's extension (with ``meta``'s ICC profile and EXIF where the format holds them, see
    :mod:`deblurcli.metadata`) and write atomically; returns bytes written."""
    path = Path(path)
    if path.suffix.lower() in HEIF_EXTS:
        data = encode_heif(img, meta)
    else:
        data = encode_image(img, path.suffix)
        if meta:
            data = embed(data, path.suffix, meta)
    write_atomic(path, data)
    return len(data)
