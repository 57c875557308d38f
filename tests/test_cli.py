import json
import os
import re
import shutil

import cv2
import numpy as np
import pytest

from deblurcli.cli import main
from deblurcli.metrics import psnr

from .conftest import DATA, ROOT, SEED, SHARED, tree_hash
from .helpers import one_line_error, run


def test_folder_happy_path(images, tiny_weights, tmp_path):
    before = tree_hash(images)
    report = tmp_path / "report.json"
    r = run("folder", images, "--weights", tiny_weights, "--json", report, "--quiet")
    assert r.exit_code == 0, r.output
    assert r.output == ""  # --quiet: nothing but errors
    out = images.parent / "imgs-deblurred"
    assert tree_hash(images) == before
    for src in images.iterdir():
        dst = out / src.name
        a, b = cv2.imread(str(src), cv2.IMREAD_UNCHANGED), cv2.imread(str(dst), cv2.IMREAD_UNCHANGED)
        assert b is not None and b.shape == a.shape and b.dtype == a.dtype, src.name
    logo = cv2.imread(str(out / "logo.png"), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(logo[:, :, 3], cv2.imread(str(images / "logo.png"), cv2.IMREAD_UNCHANGED)[:, :, 3])
    rep = json.loads(report.read_text())
    assert rep["model"] == "nafnet" and rep["variant"] == "tiny"
    assert {f["status"] for f in rep["files"]} == {"ok"} and len(rep["files"]) == len(before)
    for f in rep["files"]:
        assert f["bytes"] > 0 and f["seconds"] > 0 and f["width"] > 0


def test_16_bit_stays_16_bit(tmp_path, tiny_weights):
    src = tmp_path / "in"
    src.mkdir()
    img = cv2.imread(str(DATA / "gopro" / "blur" / "000047_1.png")).astype(np.uint16) * 257
    cv2.imwrite(str(src / "deep.png"), img)
    r = run("folder", src, "-o", tmp_path / "out", "--weights", tiny_weights, "-q")
    assert r.exit_code == 0, r.output
    out = cv2.imread(str(tmp_path / "out" / "deep.png"), cv2.IMREAD_UNCHANGED)
    assert out.dtype == np.uint16 and out.shape == img.shape
    assert len(np.unique(out % 257)) > 1  # real 16-bit values, not 8-bit scaled up


def test_bad_files_are_reported_and_skipped(images, tiny_weights, capfd):
    (images / "corrupt.png").write_bytes((DATA / "reds" / "blur" / "00000000.png").read_bytes()[:5000])
    (images / "empty.jpg").write_bytes(b"")
    (images / "notes.png").write_text("this is a text file, not an image\n")
    before = tree_hash(images)
    r = run("folder", images, "--weights", tiny_weights, "-q")
    assert r.exit_code == 1
    errors = [line for line in r.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 3, r.output
    assert any("empty.jpg" in e and "empty file" in e for e in errors)
    assert any("notes.png" in e and "text" in e for e in errors)
    assert any("corrupt.png" in e for e in errors)
    assert "WARN" not in capfd.readouterr().err  # no OpenCV chatter beside our one line
    out = images.parent / "imgs-deblurred"
    good = {p.name for p in images.iterdir()} - {"corrupt.png", "empty.jpg", "notes.png"}
    assert {p.name for p in out.iterdir()} == good  # nothing half-written, nothing hidden
    assert tree_hash(images) == before


@pytest.mark.parametrize(
    "case,expected",
    [
        ("empty", "no images"),
        ("same", "output folder is the input folder"),
        ("inside", "inside the input folder"),
        ("missing", "does not exist"),
        ("output_is_file", "not a folder"),
    ],
)
def test_jobs_that_cannot_start_exit_2_with_one_line(tmp_path, tiny_weights, images, case, expected):
    args = ["folder"]
    if case == "empty":
        (tmp_path / "empty").mkdir()
        args += [tmp_path / "empty"]
    elif case == "same":
        args += [images, "-o", images]
    elif case == "inside":
        args += [images, "-o", images / "out"]
    elif case == "missing":
        args += [tmp_path / "nope"]
    else:
        (tmp_path / "f").write_text("x")
        args += [images, "-o", tmp_path / "f"]
    before = tree_hash(images)
    r = run(*args, "--weights", tiny_weights)
    assert r.exit_code == 2
    assert expected in one_line_error(r)
    assert tree_hash(images) == before
    assert not (images / "out").exists()


def test_unwritable_output_is_one_line(images, tiny_weights, tmp_path):
    (tmp_path / "file").write_text("x")
    r = run("folder", images, "-o", tmp_path / "file" / "sub", "--weights", tiny_weights)
    assert r.exit_code == 2 and "cannot create output folder" in one_line_error(r)


def test_missing_weights_refuse_to_run(images, monkeypatch, tmp_path):
    import deblurcli.loading as L

    monkeypatch.setattr(L, "PACKAGE_WEIGHTS", tmp_path / "none")
    monkeypatch.delenv("DEBLURCLI_WEIGHTS_DIR", raising=False)
    r = run("folder", images)
    assert r.exit_code == 2
    msg = one_line_error(r)
    assert "no trained weights for nafnet" in msg and "--weights" in msg
    assert not (images.parent / "imgs-deblurred").exists()


def test_bad_weights_file_is_one_line(images, tmp_path):
    w = tmp_path / "w.safetensors"
    w.write_text("not weights")
    r = run("folder", images, "--weights", w)
    assert r.exit_code == 2 and "not a checkpoint" in one_line_error(r)


def test_existing_outputs_need_a_decision_and_skip_existing_resumes(images, tiny_weights, tmp_path):
    out = tmp_path / "out"
    assert run("folder", images, "-o", out, "--weights", tiny_weights, "-q").exit_code == 0
    first = tree_hash(out)
    victim = next(out.iterdir())
    victim.unlink()  # as if the run had been killed before this one
    r = run("folder", images, "-o", out, "--weights", tiny_weights)
    assert r.exit_code == 2 and "--skip-existing" in one_line_error(r)
    report = tmp_path / "r.json"
    r = run("folder", images, "-o", out, "--weights", tiny_weights, "--skip-existing", "-q", "--json", report)
    assert r.exit_code == 0
    files = json.loads(report.read_text())["files"]
    assert [f["output"] for f in files if f["status"] == "ok"] == [str(victim)]
    assert tree_hash(out) == first
    r = run("folder", images, "-o", out, "--weights", tiny_weights, "--overwrite", "-q")
    assert r.exit_code == 0 and tree_hash(out) == first  # deterministic


def test_format_and_recursive_keep_the_tree(tmp_path, tiny_weights):
    src = tmp_path / "shoot"
    (src / "day1").mkdir(parents=True)
    shutil.copy(DATA / "gopro" / "blur" / "000047_1.png", src / "a.png")
    shutil.copy(DATA / "gopro" / "blur" / "000047_10.png", src / "day1" / "b.png")
    r = run("folder", src, "--recursive", "--format", "jpg", "--weights", tiny_weights, "-q")
    assert r.exit_code == 0, r.output
    out = tmp_path / "shoot-deblurred"
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.*")) == ["a.jpg", "day1/b.jpg"]
    r = run("folder", src, "-o", tmp_path / "flat", "--weights", tiny_weights, "-q")
    assert [p.name for p in (tmp_path / "flat").iterdir()] == ["a.png"]


def test_name_collisions_are_reported(tmp_path, tiny_weights):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(DATA / "gopro" / "blur" / "000047_1.png", src / "x.png")
    cv2.imwrite(str(src / "x.bmp"), cv2.imread(str(DATA / "gopro" / "blur" / "000047_10.png")))
    r = run("folder", src, "--format", "png", "--weights", tiny_weights, "-q")
    assert r.exit_code == 1 and "already taken" in r.output


def test_models_lists_every_registered_variant():
    from deblurcli.models import get_spec, model_names

    r = run("models", "--json")
    assert r.exit_code == 0
    rows = json.loads(r.output)
    assert {(x["name"], x["variant"]) for x in rows} == {(n, v) for n in model_names() for v in get_spec(n).variants}
    up = next(x for x in rows if x["name"] == "uptimus" and x["variant"] == "default")
    assert up["parameters"] == 249_819 and up["pad_multiple"] == 32 and 40 < up["gmacs_per_mp"] < 60
    table = run("models")
    assert table.exit_code == 0 and "GMACs/MP" in table.output and "uptimus" in table.output
    # the study's transfer U-Nets ship no weights: the listing says how to get them
    note = " ".join(table.output.split()[-30:])
    assert "efficientnet_b4" in note and "vgg19" in note and "study.sh" in note


@pytest.mark.slow
def test_convert_study_checkpoint_and_use_it_without_m(tmp_path):
    dst = tmp_path / "uptimus.safetensors"
    r = run("convert", SEED, dst, "--half")
    assert r.exit_code == 0, r.output
    assert "uptimus (default), 249,819 parameters" in r.output
    assert dst.stat().st_size < 600_000
    from deblurcli.checkpoints import read_checkpoint

    meta = read_checkpoint(dst).metadata
    assert meta["arch"] == "uptimus" and meta["source"] == "Uptimus.pth" and meta["source_epoch"] == "65"
    again = run("convert", SEED, dst)
    assert again.exit_code == 2 and "--force" in one_line_error(again)
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(DATA / "gopro" / "blur" / "000047_1.png", src)
    r = run("folder", src, "--weights", dst, "-q")
    assert r.exit_code == 0, r.output


def test_convert_rejects_non_checkpoints(tmp_path):
    bad = tmp_path / "x.pth"
    bad.write_text("text")
    r = run("convert", bad, tmp_path / "y.safetensors")
    assert r.exit_code == 2 and "not a checkpoint" in one_line_error(r)
    assert not (tmp_path / "y.safetensors").exists()


def test_every_command_has_help_and_a_readme_section():
    readme = (ROOT / "README.md").read_text()
    sections = set(re.findall(r"^###? `deblurcli ([a-z-]+)", readme, flags=re.M))
    for name, cmd in main.commands.items():
        r = run(name, "--help")
        assert r.exit_code == 0 and len(cmd.help or "") > 40, name
        assert name in sections, f"README has no section for deblurcli {name}"


def test_tab_completion_as_the_readme_sets_it_up():
    """The README's completion line works: the shell script, then commands, options and an option's choices,
    answered without importing torch."""
    import subprocess
    import sys

    def complete(words, cword):
        env = {**os.environ, "_DEBLURCLI_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
        code = "import sys; from deblurcli.entry import run; run()"
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT)
        assert r.returncode == 0, r.stderr
        return [line.split(",", 1)[1] for line in r.stdout.splitlines()]

    assert (
        "_deblurcli_completion"
        in subprocess.run(
            [sys.executable, "-m", "deblurcli"],
            env={**os.environ, "_DEBLURCLI_COMPLETE": "bash_source"},
            capture_output=True,
            text=True,
        ).stdout
    )
    assert complete("deblurcli fo", 1) == ["folder"]
    assert complete("deblurcli folder --eng", 2) == ["--engine", "--engine-dir"]
    assert complete("deblurcli video --precision ", 3) == ["auto", "fp32", "fp16", "bf16"]
    assert "nafnet" in complete("deblurcli folder -m ", 3)


def test_python_dash_m_works():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "deblurcli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "deblurcli" in out.stdout


def _psnr(a, b):
    return psnr(a, b)


@pytest.mark.slow
def test_study_checkpoint_deblurs_a_real_folder_end_to_end(tmp_path):
    """The study's Uptimus on real REDS blur: right sizes, plausible PSNR.

    That model is weak on this data: measured here it lowers PSNR by 0.42 dB
    (24.53 -> 24.11 dB). A swapped channel order or a [0, 255] range costs
    about 5 dB, so the output must stay within 0.6 dB of the input.
    """
    clip = SHARED / "data" / "pairs" / "reds_small" / "train_000"
    src = tmp_path / "blur"
    shutil.copytree(clip / "blur", src)
    r = run("folder", src, "--weights", SEED, "-q")
    assert r.exit_code == 0, r.output
    p_in, p_out = [], []
    for b in sorted(src.iterdir()):
        sharp = cv2.imread(str(clip / "sharp" / b.name))
        out = cv2.imread(str(tmp_path / "blur-deblurred" / b.name))
        assert out.shape == sharp.shape
        p_in.append(_psnr(cv2.imread(str(b)), sharp))
        p_out.append(_psnr(out, sharp))
    assert len(p_out) == 10
    assert abs(np.mean(p_out) - np.mean(p_in)) < 0.6, (np.mean(p_in), np.mean(p_out))


@pytest.mark.parametrize("command", ["folder", "video", "build-engine"])
def test_unknown_variant_is_one_line_exit_2(command, images, tmp_path):
    """Was a KeyError traceback with exit 1; the registry now raises a DeblurError."""
    args = {
        "folder": [images, "-o", tmp_path / "out"],
        "video": [SHARED / "data" / "videos" / "01_dog.mp4", "-o", tmp_path / "x.mp4"],
        "build-engine": ["nafnet"],
    }[command]
    r = run(command, *args, "--variant", "bogus")
    assert r.exit_code == 2
    assert "has no variant 'bogus'" in one_line_error(r) and "Traceback" not in r.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["folder", "--help"],
        ["train", "--help"],
        ["video", "--help"],
        ["build-engine", "--help"],
        ["eval", "--help"],
    ],
)
def test_help_and_version_do_not_import_torch(args):
    """--help and --version answer in well under a second: no torch or torchvision import (3 s)."""
    import subprocess
    import sys

    code = (
        "import sys; from click.testing import CliRunner; from deblurcli.cli import main; "
        f"r = CliRunner().invoke(main, {args!r}); assert r.exit_code == 0, r.output; "
        "heavy = [m for m in ('torch', 'torchvision', 'cv2', 'onnxruntime') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr


def test_catalog_is_the_registry():
    """The torch-free name list behind the CLI's choices is exactly the registry's names, in its order."""
    from deblurcli.catalog import DEFAULT_VARIANTS, architecture_names
    from deblurcli.models import get_spec, model_names

    assert architecture_names() == model_names()
    assert DEFAULT_VARIANTS == {n: get_spec(n).default_variant for n in model_names()}


def test_strength_dials_the_models_change(images, tiny_weights, tmp_path):
    src = images / "reds_00000000.png"
    outs = {}
    for s in (None, "1", "0.5"):
        out = tmp_path / f"{s}.png"
        extra = ["--strength", s] if s else []
        r = run("folder", src, "-o", out, "--weights", tiny_weights, "--engine", "torch", "-q", *extra)
        assert r.exit_code == 0, r.output
        outs[s] = cv2.imread(str(out)).astype(float)
    x = cv2.imread(str(src)).astype(float)
    assert np.array_equal(outs[None], outs["1"])  # 1 is the default
    full, half = np.abs(outs["1"] - x).mean(), np.abs(outs["0.5"] - x).mean()
    assert full > 1 and abs(half / full - 0.5) < 0.1
    r = run("folder", src, "-o", tmp_path / "z.png", "--weights", tiny_weights, "--strength", "0")
    assert r.exit_code == 2 and "--strength" in r.output and not (tmp_path / "z.png").exists()


def test_options_from_the_environment_but_never_one_that_replaces_files(images, tiny_weights, tmp_path, monkeypatch):
    """DEBLURCLI_<COMMAND>_<OPTION> sets any option (Click's auto_envvar_prefix); --overwrite and --force, which
    replace files, must be typed."""
    src = images / "reds_00000000.png"
    out = tmp_path / "o.png"
    monkeypatch.setenv("DEBLURCLI_FOLDER_ENSEMBLE", "1")
    monkeypatch.setenv("DEBLURCLI_FOLDER_ENGINE", "torch")
    r = run("folder", src, "-o", out, "--weights", tiny_weights, "--json", tmp_path / "r.json", "-q")
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["ensemble"] == 1 and doc["engine"]["name"] == "torch"
    before = out.read_bytes()
    monkeypatch.setenv("DEBLURCLI_FOLDER_OVERWRITE", "1")
    r = run("folder", src, "-o", out, "--weights", tiny_weights, "-q")
    assert r.exit_code == 2 and "--overwrite" in one_line_error(r) and out.read_bytes() == before
    for name, cmd in main.commands.items():
        for p in cmd.params:
            if p.name in ("overwrite", "force") and name != "build-engine":  # rebuilding an engine loses nothing
                assert not p.allow_from_autoenv, f"{name} --{p.name}"
