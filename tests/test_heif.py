"""HEIC photos (an iPhone's default): read upright, deblurred, written back as HEIC with profile and EXIF."""

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from deblurcli.images import read_image
from deblurcli.metrics import psnr

from .conftest import DATA, tree_hash
from .helpers import one_line_error, run

pillow_heif = pytest.importorskip("pillow_heif")
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _rgb(name="moon.png"):
    return np.ascontiguousarray(cv2.cvtColor(cv2.imread(str(DATA / "photos" / name)), cv2.COLOR_BGR2RGB))


def _heic(path, img, **save):
    mode = {np.dtype(np.uint8): "RGB", np.dtype(np.uint16): "RGB;16"}[img.dtype]
    pillow_heif.from_bytes(mode, (img.shape[1], img.shape[0]), img.tobytes()).save(path, quality=95, **save)
    return path


def _exif(orientation):
    ex = Image.Exif()
    ex[0x0112] = orientation
    ex[0x010F] = "Apple"
    return ex.tobytes()


def _info(path):
    h = pillow_heif.open_heif(path, convert_hdr_to_8bit=False)
    ex = Image.Exif()
    if h.info.get("exif"):
        ex.load(h.info["exif"])
    return np.asarray(h), h.info.get("icc_profile"), ex


def test_heic_reads_like_the_picture_it_holds(tmp_path):
    img = _rgb()[:200, :300]
    got = read_image(_heic(tmp_path / "a.heic", img))
    assert got.shape == img.shape and got.dtype == np.uint8 and psnr(got, img) > 35


def test_a_turned_heic_reads_upright(tmp_path):
    img = _rgb()[:120, :200]
    got = read_image(_heic(tmp_path / "t.heic", img, exif=_exif(6)))  # stored as an irot transform
    assert got.shape == (200, 120, 3)
    assert psnr(got, np.ascontiguousarray(np.rot90(img, -1))) > 35  # 6: turned 90 degrees clockwise to view


def test_folder_writes_heic_with_its_profile_and_exif_upright(tmp_path, tiny_weights):
    src = tmp_path / "in"
    src.mkdir()
    _heic(src / "turned.heic", _rgb()[:120, :200], exif=_exif(6), icc_profile=SRGB)
    deep = _rgb()[:64, :96].astype(np.uint16) * 257
    _heic(src / "deep.heic", deep)
    before = tree_hash(src)
    r = run("folder", src, "-o", tmp_path / "out", "--weights", tiny_weights, "-q")
    assert r.exit_code == 0, r.output
    assert tree_hash(src) == before
    pixels, icc, ex = _info(tmp_path / "out" / "turned.heic")
    assert pixels.shape == (200, 120, 3) and icc == SRGB and ex[0x0112] == 1 and ex[0x010F] == "Apple"
    pixels, _, _ = _info(tmp_path / "out" / "deep.heic")
    assert pixels.dtype == np.uint16 and pixels.shape == deep.shape  # 10-bit in, 10-bit out


def test_heic_to_jpeg_keeps_profile_and_exif(tmp_path, tiny_weights):
    src = _heic(tmp_path / "p.heic", _rgb()[:120, :200], exif=_exif(6), icc_profile=SRGB)
    r = run("folder", src, "--format", "jpg", "--weights", tiny_weights, "-q")
    assert r.exit_code == 0, r.output
    with Image.open(tmp_path / "p-deblurred.jpg") as im:
        assert im.size == (120, 200) and im.info["icc_profile"] == SRGB and im.getexif()[0x0112] == 1


def test_a_broken_heic_is_one_line_and_the_rest_go_on(tmp_path, tiny_weights):
    src = tmp_path / "in"
    src.mkdir()
    good = _heic(src / "good.heic", _rgb()[:64, :96])
    (src / "cut.heic").write_bytes(good.read_bytes()[:400])
    r = run("folder", src, "-o", tmp_path / "out", "--weights", tiny_weights, "-q")
    assert r.exit_code == 1
    assert "cut.heic" in one_line_error(r) and "HEIF" in one_line_error(r)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["good.heic"]


def test_a_heic_over_the_pixel_limit_is_refused_from_its_header(tmp_path, monkeypatch):
    from deblurcli.errors import ImageError

    monkeypatch.setenv("DEBLURCLI_MAX_PIXELS", "1000")
    with pytest.raises(ImageError, match="over the limit"):
        read_image(_heic(tmp_path / "a.heic", _rgb()[:64, :96]))
