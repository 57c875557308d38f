"""``deblurcli folder -`` and ``-o -``: one image through a pipe, byte for byte what the file job writes; the pipe
carries nothing but the image; bad streams and bad combinations are refused in one line."""

import json
import os
import pty
import subprocess
import sys

import pytest

from deblurcli.images import image_extension

from .conftest import ROOT
from .helpers import one_line_error, run


def piped(*args, stdin=b"", tmp=None):
    env = {**os.environ, "TMPDIR": str(tmp)} if tmp else None
    cmd = [sys.executable, "-m", "deblurcli", "folder", *[str(a) for a in args]]
    return subprocess.run(cmd, input=stdin, capture_output=True, cwd=ROOT, env=env, timeout=300)


@pytest.fixture
def photo(images):
    return images / "reds_00000000.png"


def test_a_pipe_in_and_out_is_the_file_jobs_output_and_nothing_else(photo, tiny_weights, tmp_path):
    ref = tmp_path / "ref.png"
    assert run("folder", photo, "-o", ref, "--weights", tiny_weights, "--engine", "torch", "-q").exit_code == 0
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    r = piped("-", "--weights", tiny_weights, "--engine", "torch", "--json", tmp_path / "r.json",
              stdin=photo.read_bytes(), tmp=tmp)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout == ref.read_bytes()  # the image and only the image; the header and summary went to stderr
    assert b"standard output" in r.stderr
    assert list(tmp.iterdir()) == []  # the pipe's temporary folder is gone
    doc = json.loads((tmp_path / "r.json").read_text())
    assert (doc["ensemble"], doc["strength"], doc["output"]) == (4, 1.0, "-")
    (row,) = doc["files"]
    assert row["input"] == "-" and row["output"] == "-" and row["status"] == "ok"


def test_a_file_to_standard_output_in_another_format(images, tiny_weights, tmp_path):
    src = next(p for p in images.iterdir() if p.suffix == ".jpg")
    ref = tmp_path / "ref.png"
    assert run("folder", src, "-o", ref, "--weights", tiny_weights, "--engine", "torch", "-q").exit_code == 0
    r = piped(src, "-o", "-", "--format", "png", "--weights", tiny_weights, "--engine", "torch", "-q")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ref.read_bytes() and r.stderr == b""


def test_standard_input_to_a_named_file(photo, tiny_weights, tmp_path):
    out = tmp_path / "sharp.jpg"
    r = run("folder", "-", "-o", out, "--weights", tiny_weights, "--engine", "torch", "-q", input=photo.read_bytes())
    assert r.exit_code == 0, r.output
    assert image_extension(out.read_bytes()) == ".jpg"
    r = run("folder", "-", "-o", out, "--weights", tiny_weights, "-q", input=photo.read_bytes())
    assert r.exit_code == 2 and "already exist" in one_line_error(r)  # an existing output needs a decision


def test_a_corrupt_image_on_standard_input_fails_and_writes_nothing(photo, tiny_weights):
    r = piped("-", "--weights", tiny_weights, "--engine", "torch", "-q", stdin=photo.read_bytes()[:3000])
    assert r.returncode == 1 and r.stdout == b""
    (line,) = r.stderr.decode().splitlines()
    assert line.startswith("error: -: ") and "PNG" in line


@pytest.mark.parametrize(
    ("stdin", "args", "message"),
    [
        (b"", ["-"], "standard input is empty"),
        (b"hello, world\n", ["-"], "standard input is not an image in a format deblurcli reads"),
        (b"RIFF\0\0\0\0WAVEfmt ", ["-"], "standard input is not an image"),
        (None, ["-", "-o", "outdir/"], "with standard input, -o names the output image"),
        (None, ["-", "x.png"], "'-' stands for one image"),
        (None, ["-", "--json", "-"], "--json - would mix the report into the image"),
        (None, ["-", "-r"], "--recursive applies to a folder INPUT"),
    ],
)
def test_bad_streams_and_combinations_are_refused_in_one_line(photo, tiny_weights, tmp_path, stdin, args, message):
    data = photo.read_bytes() if stdin is None else stdin
    r = run("folder", *args, "--weights", tiny_weights, input=data)
    assert r.exit_code == 2 and message in r.output.splitlines()[-1], r.output
    assert not (tmp_path / "outdir").exists()


def test_image_data_is_never_written_to_a_terminal(photo, tiny_weights):
    leader, follower = pty.openpty()
    try:
        cmd = [sys.executable, "-m", "deblurcli", "folder", str(photo), "-o", "-", "--weights", str(tiny_weights)]
        r = subprocess.run(cmd, stdout=follower, stderr=subprocess.PIPE, cwd=ROOT, timeout=120)
    finally:
        os.close(follower)
        os.close(leader)
    assert r.returncode == 2
    assert "refusing to write image data to a terminal" in r.stderr.decode().splitlines()[-1]


@pytest.mark.parametrize(
    ("head", "ext"),
    [
        (b"\x89PNG\r\n\x1a\n", ".png"),
        (b"\xff\xd8\xff\xe0", ".jpg"),
        (b"BM", ".bmp"),
        (b"II*\x00", ".tif"),
        (b"RIFF\0\0\0\0WEBPVP8 ", ".webp"),
        (b"\0\0\0\x18ftypheic", ".heic"),
        (b"GIF89a", None),
    ],
)
def test_the_format_of_a_stream_is_read_from_its_first_bytes(head, ext):
    assert image_extension(head + b"\0" * 16) == ext


def test_no_room_for_the_piped_image_is_one_line(photo, tiny_weights, monkeypatch):
    import tempfile

    def no_room(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "TemporaryDirectory", no_room)
    r = run("folder", "-", "-o", "x.png", "--weights", tiny_weights, input=photo.read_bytes())
    assert r.exit_code == 2
    assert "cannot create a temporary folder for the piped image: No space left on device" in one_line_error(r)
    monkeypatch.undo()
    from pathlib import Path

    monkeypatch.setattr(Path, "write_bytes", no_room)  # the folder is made, the image does not fit
    r = run("folder", "-", "-o", "x.png", "--weights", tiny_weights, input=photo.read_bytes())
    assert r.exit_code == 2
    assert "cannot keep the piped image in a temporary folder: No space left on device" in one_line_error(r)


@pytest.mark.parametrize(("fd", "args", "message"), [(0, ["-", "-o", "x.png"], "standard input is closed"),
                                                     (1, ["{photo}", "-o", "-"], "standard output is closed")])  # fmt: skip
def test_a_closed_standard_stream_is_one_line(photo, tiny_weights, fd, args, message):
    cmd = [
        sys.executable,
        "-m",
        "deblurcli",
        "folder",
        *[a.format(photo=photo) for a in args],
        "--weights",
        str(tiny_weights),
    ]
    out = None if fd == 1 else subprocess.PIPE
    r = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, cwd=ROOT, timeout=120, preexec_fn=lambda: os.close(fd))
    assert r.returncode == 2 and message in r.stderr.decode().splitlines()[-1]
