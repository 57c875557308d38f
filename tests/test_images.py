import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from deblurcli.errors import ImageError
from deblurcli.images import read_image, write_image

from .conftest import DATA


@pytest.mark.parametrize(
    "shape,dtype,ext",
    [
        ((20, 30, 3), np.uint8, ".png"),
        ((20, 30, 3), np.uint16, ".png"),
        ((20, 30, 4), np.uint8, ".png"),
        ((20, 30, 4), np.uint16, ".png"),
        ((20, 30), np.uint8, ".png"),
        ((20, 30), np.uint16, ".tif"),
        ((20, 30, 3), np.uint16, ".tiff"),
        ((20, 30, 3), np.uint8, ".bmp"),
        ((20, 30, 4), np.uint8, ".webp"),
    ],
)
def test_lossless_formats_roundtrip_exactly(tmp_path, shape, dtype, ext):
    rng = np.random.default_rng(0)
    img = rng.integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)
    p = tmp_path / f"x{ext}"
    write_image(p, img)
    back = read_image(p)
    assert back.dtype == img.dtype and back.shape == img.shape
    if ext == ".webp":  # libwebp may change the colour of fully transparent pixels
        visible = img[..., 3] > 0
        assert np.array_equal(back[..., 3], img[..., 3]) and np.array_equal(back[visible], img[visible])
    else:
        assert np.array_equal(back, img)
    assert [q.name for q in tmp_path.iterdir()] == [p.name]  # no temporary left


def test_colour_order_is_rgb():
    img = read_image(DATA / "photos" / "rocket.jpg")
    ref = np.asarray(Image.open(DATA / "photos" / "rocket.jpg").convert("RGB"))
    assert np.abs(img.astype(int) - ref.astype(int)).mean() < 1.0


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_honoured(tmp_path, orientation):
    src = Image.fromarray(np.asarray(Image.open(DATA / "reds" / "blur" / "00000000.png").convert("RGB"))[:64, :96])
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    src.save(buf, "JPEG", quality=98, exif=exif.tobytes())
    p = tmp_path / "o.jpg"
    p.write_bytes(buf.getvalue())
    expected = np.asarray(ImageOps.exif_transpose(Image.open(p)).convert("RGB"))
    got = read_image(p)
    assert got.shape == expected.shape
    assert np.abs(got.astype(int) - expected.astype(int)).mean() < 2.0


@pytest.mark.parametrize(
    "content,reason",
    [
        (b"", "empty file"),
        (b"just some text, not pixels\n", "text"),
    ],
)
def test_unreadable_files_give_a_reason(tmp_path, content, reason):
    p = tmp_path / "bad.png"
    p.write_bytes(content)
    with pytest.raises(ImageError, match=reason):
        read_image(p)


def test_truncated_png_is_an_error(tmp_path):
    data = (DATA / "reds" / "blur" / "00000000.png").read_bytes()
    p = tmp_path / "cut.png"
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageError, match="truncated or corrupt|PNG"):
        read_image(p)


def test_a_report_to_a_closed_or_full_standard_output_is_one_error(monkeypatch):
    import io
    import sys

    from deblurcli.errors import ImageError
    from deblurcli.images import write_json_atomic

    monkeypatch.setattr(sys, "stdout", None)
    with pytest.raises(ImageError, match="standard output is closed"):
        write_json_atomic("-", {"files": []})

    class Full(io.StringIO):
        def write(self, s):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(sys, "stdout", Full())
    with pytest.raises(ImageError, match="to standard output: No space left on device"):
        write_json_atomic("-", {"files": []})
