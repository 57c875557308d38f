"""A photo's metadata, carried to its deblurred output: the ICC colour profile and the EXIF block.

Without its ICC profile a Display P3 or Adobe RGB photo (most phones, many cameras) is shown as sRGB and its
colours shift; without EXIF it loses its capture date, camera, lens and location. Both are read from the input
(JPEG, PNG, WebP, TIFF, HEIC; EXIF from JPEG, PNG, WebP and HEIC) and written into JPEG, PNG and HEIC outputs
(:mod:`deblurcli.heif`), byte for byte, except
one value: the EXIF orientation becomes 1 (upright), because the written pixels are already upright
(:func:`deblurcli.images.read_image` applies it). An EXIF block whose orientation cannot be found safely is
dropped rather than written with a turn the pixels no longer need. WebP, TIFF and BMP outputs carry none.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

EXIF_HEADER = b"Exif\x00\x00"
_ORIENTATION = 0x0112
_JPEG_SEGMENT = 65533  # the largest payload one JPEG marker segment holds (its length field counts itself)
_ICC_CHUNK = _JPEG_SEGMENT - 14  # "ICC_PROFILE\0", sequence number, count


@dataclass(frozen=True)
class Metadata:
    icc: bytes | None = None  # the ICC profile, as embedded
    exif: bytes | None = None  # the TIFF-structured EXIF block (no "Exif\0\0" header), orientation upright

    def __bool__(self) -> bool:
        return bool(self.icc or self.exif)


def read_metadata(path: str | Path) -> Metadata:
    """The ICC profile and EXIF of the image at ``path``; empty when it has none or cannot be parsed."""
    try:
        from PIL import Image

        from .heif import heif_metadata, is_heif

        with open(path, "rb") as f:
            head = f.read(12)
        if is_heif(head):
            found = heif_metadata(Path(path).read_bytes())
            icc, exif = found.icc, found.exif
        else:
            with Image.open(path) as im:
                icc = im.info.get("icc_profile") or None
                exif = im.info.get("exif") or None
    except Exception:  # a file Pillow cannot open has nothing we can carry; the image itself may still read
        return Metadata()
    if isinstance(exif, bytes):
        exif = upright_exif(exif[len(EXIF_HEADER) :] if exif.startswith(EXIF_HEADER) else exif)
    else:
        exif = None
    return Metadata(icc if isinstance(icc, bytes) else None, exif)


def upright_exif(tiff: bytes) -> bytes | None:
    """``tiff`` (an EXIF block) with its orientation set to 1, or None when its first IFD cannot be walked."""
    if len(tiff) < 8 or tiff[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    e = "<" if tiff[:2] == b"II" else ">"
    (ifd,) = struct.unpack_from(e + "I", tiff, 4)
    if ifd + 2 > len(tiff):
        return None
    (n,) = struct.unpack_from(e + "H", tiff, ifd)
    if ifd + 2 + 12 * n > len(tiff):
        return None
    out = bytearray(tiff)
    for k in range(n):
        at = ifd + 2 + 12 * k
        tag, kind, count = struct.unpack_from(e + "HHI", tiff, at)
        if tag == _ORIENTATION:
            if kind != 3 or count != 1:  # not the SHORT the standard says: do not guess
                return None
            struct.pack_into(e + "H", out, at + 8, 1)
    return bytes(out)


def embed(data: bytes, ext: str, meta: Metadata) -> bytes:
    """Encoded image ``data`` (as :func:`deblurcli.images.encode_image` made it) with ``meta`` written in, for
    JPEG and PNG; other formats are returned as they are."""
    if not meta:
        return data
    ext = ext.lower()
    if ext in (".jpg", ".jpeg") and data[:2] == b"\xff\xd8":
        return _embed_jpeg(data, meta)
    if ext == ".png" and data[:8] == b"\x89PNG\r\n\x1a\n":
        return _embed_png(data, meta)
    return data


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _embed_jpeg(data: bytes, meta: Metadata) -> bytes:
    segments = []
    if meta.exif and len(EXIF_HEADER) + len(meta.exif) <= _JPEG_SEGMENT:  # larger: no room in one APP1, dropped
        segments.append(_segment(0xE1, EXIF_HEADER + meta.exif))
    if meta.icc:
        chunks = [meta.icc[i : i + _ICC_CHUNK] for i in range(0, len(meta.icc), _ICC_CHUNK)]
        if len(chunks) <= 255:
            for i, chunk in enumerate(chunks, 1):
                segments.append(_segment(0xE2, b"ICC_PROFILE\x00" + bytes([i, len(chunks)]) + chunk))
    at = 2  # after SOI, and after a JFIF APP0 where the encoder wrote one (JFIF must come first)
    if data[2:4] == b"\xff\xe0":
        at = 4 + struct.unpack_from(">H", data, 4)[0]
    return data[:at] + b"".join(segments) + data[at:]


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _embed_png(data: bytes, meta: Metadata) -> bytes:
    at = 8 + 8 + struct.unpack_from(">I", data, 8)[0] + 4  # after the signature and IHDR
    chunks = b""
    if meta.icc:  # iCCP must come before PLTE and IDAT, and rules out sRGB (which the encoder does not write)
        chunks += _chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(meta.icc))
    if meta.exif:
        chunks += _chunk(b"eXIf", meta.exif)
    return data[:at] + chunks + data[at:]
