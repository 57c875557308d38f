"""``deblurcli folder`` on image files named one by one: where outputs go, what is refused, nothing lost."""

import cv2
import numpy as np
import pytest

from .conftest import tree_hash
from .helpers import one_line_error, run


def _same_image(src, dst):
    a, b = cv2.imread(str(src), cv2.IMREAD_UNCHANGED), cv2.imread(str(dst), cv2.IMREAD_UNCHANGED)
    return b is not None and b.shape == a.shape and b.dtype == a.dtype


def test_one_image_goes_beside_itself(images, tiny_weights):
    src = images / "reds_00000000.png"
    before = tree_hash(images)
    r = run("folder", src, "--weights", tiny_weights, "-q")
    assert r.exit_code == 0, r.output
    out = images / "reds_00000000-deblurred.png"
    assert _same_image(src, out)
    assert {k: v for k, v in tree_hash(images).items() if k != out.name} == before  # the input untouched
    assert sorted(p.name for p in images.iterdir()) == sorted([*before, out.name])  # no temporaries left


def test_one_image_to_a_named_file_takes_its_format(images, tiny_weights, tmp_path):
    src = next(p for p in images.iterdir() if p.suffix == ".jpg")
    out = tmp_path / "new" / "sharp.png"
    r = run("folder", src, "-o", out, "--weights", tiny_weights, "-q")
    assert r.exit_code == 0, r.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and _same_image(src, out)
    assert list(out.parent.iterdir()) == [out]


def test_several_images_into_a_folder_and_a_bad_one_is_reported(images, tiny_weights, tmp_path):
    good = sorted(p for p in images.iterdir() if p.suffix == ".png")[:2]
    bad = images / "broken.png"
    bad.write_bytes(good[0].read_bytes()[:3000])
    before = tree_hash(images)
    r = run("folder", *good, bad, "-o", tmp_path / "out", "--weights", tiny_weights, "-q")
    assert r.exit_code == 1  # one file failed, the others are done
    errors = [line for line in r.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broken.png" in errors[0], r.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in good)
    assert all(_same_image(p, tmp_path / "out" / p.name) for p in good)
    assert tree_hash(images) == before


def test_a_file_named_twice_runs_once(images, tiny_weights, tmp_path):
    a, b = sorted(p for p in images.iterdir() if p.suffix == ".png")[:2]
    r = run("folder", a, b, a, images / ".." / images.name / a.name, "-o", tmp_path / "o/", "--weights", tiny_weights)
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == sorted([a.name, b.name])
    assert "2 to do" in r.output


def test_an_existing_output_needs_a_decision(images, tiny_weights):
    src = images / "reds_00000000.png"
    out = images / "reds_00000000-deblurred.png"
    out.write_bytes(b"mine")
    r = run("folder", src, "--weights", tiny_weights)
    assert r.exit_code == 2 and "already exist" in one_line_error(r) and "--overwrite" in one_line_error(r)
    assert out.read_bytes() == b"mine"
    r = run("folder", src, "--weights", tiny_weights, "--skip-existing", "-q")
    assert r.exit_code == 0 and out.read_bytes() == b"mine"
    r = run("folder", src, "--weights", tiny_weights, "--overwrite", "-q")
    assert r.exit_code == 0 and _same_image(src, out)


@pytest.mark.parametrize(
    "case,expected",
    [
        ("onto_itself", "would overwrite the input"),
        ("into_its_folder", "would overwrite the input"),
        ("missing", "does not exist"),
        ("folder_among_files", "is a folder; give one folder, or image files"),
        ("not_an_image", "is not named as an image"),
        ("one_file_for_two", "names one image, but 2 inputs"),
        ("format_disagrees", "another extension than --format"),
        ("recursive", "--recursive applies to a folder"),
    ],
)
def test_image_jobs_that_cannot_start_exit_2_with_one_line(images, tiny_weights, tmp_path, case, expected):
    a, b = sorted(p for p in images.iterdir() if p.suffix == ".png")[:2]
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    args = {
        "onto_itself": [a, "-o", a],
        "into_its_folder": [a, b, "-o", images],
        "missing": [a, images / "nope.png"],
        "folder_among_files": [a, images],
        "not_an_image": [notes],
        "one_file_for_two": [a, b, "-o", tmp_path / "x.png"],
        "format_disagrees": [a, "-o", tmp_path / "x.png", "--format", "jpg"],
        "recursive": [a, "-r"],
    }[case]
    before = tree_hash(images)
    r = run("folder", *args, "--weights", tiny_weights)
    assert r.exit_code == 2
    # a usage mistake gets click's usage lines above its one error line
    assert expected in (r.output.splitlines()[-1] if case == "recursive" else one_line_error(r))
    assert tree_hash(images) == before
    assert not (tmp_path / "x.png").exists()


def test_jpeg_output_of_a_png_with_alpha_drops_alpha(images, tiny_weights, tmp_path):
    src = images / "logo.png"
    out = tmp_path / "logo.jpg"
    assert run("folder", src, "-o", out, "--weights", tiny_weights, "-q").exit_code == 0
    img = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert img.shape[:2] == cv2.imread(str(src), cv2.IMREAD_UNCHANGED).shape[:2] and img.dtype == np.uint8


def test_a_dry_run_says_what_the_job_would_do_and_touches_nothing(images, tmp_path):
    """-n: one line per image (write, replace, skip, refuse), nothing loaded, read or written, not even a killed
    run's temporaries removed; the run's own refusals and exit codes."""
    import os
    import subprocess
    import sys

    from deblurcli.atomic import PREFIX, SUFFIX, _host

    out = tmp_path / "out"
    out.mkdir()
    (out / "reds_00000000.png").write_bytes(b"an earlier output")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = out / f"{PREFIX}{_host()}-{dead.pid}-abcd1234{SUFFIX}"
    stale.write_bytes(b"half an image")
    (images / "gopro_000047_1.jpg").write_bytes(b"not even a jpeg")  # a name that collides under --format png
    before, before_out = tree_hash(images), tree_hash(out)
    missing = tmp_path / "weights-that-do-not-exist.safetensors"  # nothing is loaded
    r = run("folder", images, "-o", out, "-n", "--skip-existing", "--format", "png", "--weights", missing)
    assert r.exit_code == 1  # the run would refuse one image
    lines = [line.split("\t") for line in r.output.splitlines() if "\t" in line]
    by_input = {os.path.basename(row[1]): row for row in lines}
    assert len(lines) == len(os.listdir(images))
    assert by_input["reds_00000000.png"][0] == "skip"
    refused = [row for row in lines if row[0] == "refuse"]
    assert len(refused) == 1 and "already taken" in refused[0][3]
    assert {row[0] for row in lines} == {"write", "skip", "refuse"}
    assert "nothing read or written" in r.output.splitlines()[-1]
    assert tree_hash(images) == before and tree_hash(out) == before_out and stale.exists()
    r = run("folder", images, "-o", tmp_path / "new", "-n", "--weights", missing)
    assert r.exit_code == 0 and not (tmp_path / "new").exists()
    r = run("folder", images, "-o", out, "-n")  # an existing output needs a decision, as in a run
    assert r.exit_code == 2 and "already exist" in one_line_error(r)
    r = run("folder", images / "reds_00000000.png", "-o", out / "reds_00000000.png", "-n", "--overwrite")
    assert r.exit_code == 0 and r.output.startswith("replace\t")
