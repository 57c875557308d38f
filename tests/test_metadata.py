"""A photo's ICC profile and EXIF reach its deblurred output; the orientation tag says upright."""

import io
import struct

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from deblurcli.images import encode_image, read_image, write_image
from deblurcli.metadata import Metadata, embed, read_metadata, upright_exif

from .helpers import run

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _exif(orientation=6):
    ex = Image.Exif()
    ex[0x0112] = orientation
    ex[0x010F] = "Canon"
    ex[0x0110] = "EOS R5"
    ex.get_ifd(0x8769)[0x9003] = "2026:11:28 07:00:00"  # DateTimeOriginal
    return ex.tobytes()


def _photo(path, size=(90, 60), **save):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path, **save)
    return path


def _check(out, stored_size):
    with Image.open(out) as im:
        ex = im.getexif()
        assert im.info.get("icc_profile") == SRGB
        assert ex[0x0112] == 1 and ex[0x010F] == "Canon" and ex[0x0110] == "EOS R5"
        assert ex.get_ifd(0x8769)[0x9003] == "2026:11:28 07:00:00"
        assert im.size == stored_size[::-1]  # stored turned, written upright


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_folder_carries_icc_and_exif_and_writes_upright(tmp_path, tiny_weights, ext):
    src = _photo(tmp_path / f"in{ext}", exif=_exif(6), icc_profile=SRGB)
    for name in (f"out{ext}", "as.png", "as.jpg"):
        r = run("folder", src, "-o", tmp_path / name, "--weights", tiny_weights, "-q")
        assert r.exit_code == 0, r.output
        _check(tmp_path / name, (90, 60))


def test_embedding_changes_no_pixel(tmp_path):
    rng = np.random.default_rng(1)
    meta = Metadata(SRGB, upright_exif(_exif(3)[6:]))
    for img, ext in (
        (rng.integers(0, 65536, (40, 50, 3), dtype=np.uint16), ".png"),
        (rng.integers(0, 256, (40, 50, 4), dtype=np.uint8), ".png"),
        (rng.integers(0, 256, (40, 50), dtype=np.uint8), ".png"),
        (rng.integers(0, 256, (40, 50, 3), dtype=np.uint8), ".jpg"),
    ):
        plain, rich = encode_image(img, ext), embed(encode_image(img, ext), ext, meta)
        assert len(rich) > len(plain)
        a = cv2.imdecode(np.frombuffer(plain, np.uint8), cv2.IMREAD_UNCHANGED)
        b = cv2.imdecode(np.frombuffer(rich, np.uint8), cv2.IMREAD_UNCHANGED)
        assert a.dtype == b.dtype and np.array_equal(a, b)
        write_image(tmp_path / f"x{ext}", img, meta)
        if ext == ".png":  # lossless: what was written is what reads back, upright as given
            assert np.array_equal(read_image(tmp_path / f"x{ext}"), img)
        with Image.open(io.BytesIO(rich)) as im:
            assert im.info["icc_profile"] == SRGB and im.getexif()[0x0112] == 1


def test_a_large_icc_profile_spans_several_jpeg_segments():
    icc = bytes(range(256)) * 600  # 150 KB: three APP2 segments
    data = embed(encode_image(np.zeros((8, 8, 3), np.uint8), ".jpg"), ".jpg", Metadata(icc=icc))
    assert data.count(b"ICC_PROFILE\x00") == 3
    with Image.open(io.BytesIO(data)) as im:
        assert im.info["icc_profile"] == icc


def test_big_endian_exif_is_turned_upright_in_place():
    # a Motorola-order block with one IFD entry: Orientation = 8
    tiff = b"MM\x00*" + struct.pack(">I", 8) + struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, 8, 0)
    tiff += struct.pack(">I", 0)
    up = upright_exif(tiff)
    assert up is not None and len(up) == len(tiff) and struct.unpack_from(">H", up, 18)[0] == 1
    assert up[:18] == tiff[:18] and up[20:] == tiff[20:]  # nothing else moved


@pytest.mark.parametrize(
    "block",
    [b"", b"not exif at all", b"II*\x00" + struct.pack("<I", 4000), b"II*\x00\x08\x00\x00\x00\x05\x00"],
)
def test_exif_that_cannot_be_walked_is_dropped_not_guessed(block):
    assert upright_exif(block) is None


def test_broken_exif_never_fails_the_image(tmp_path, tiny_weights, capfd):
    src = _photo(tmp_path / "in.jpg", exif=b"Exif\x00\x00II*\x00\xff\xff\xff\x7f", icc_profile=SRGB)
    assert read_metadata(src).exif is None and read_metadata(src).icc == SRGB
    r = run("folder", src, "-o", tmp_path / "out.jpg", "--weights", tiny_weights, "-q")
    assert r.exit_code == 0 and r.output == "", r.output
    assert "Warning" not in capfd.readouterr().err  # no Pillow chatter about the EXIF block
    with Image.open(tmp_path / "out.jpg") as im:
        assert im.info.get("icc_profile") == SRGB and "exif" not in im.info


def test_formats_without_a_place_for_it_are_written_plain(tmp_path):
    img = np.zeros((8, 8, 3), np.uint8)
    for ext in (".webp", ".bmp", ".tif"):
        assert embed(encode_image(img, ext), ext, Metadata(SRGB, None)) == encode_image(img, ext)
    assert read_metadata(tmp_path / "missing.png") == Metadata()
