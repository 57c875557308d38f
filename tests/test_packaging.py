"""The built wheel holds what the README promises sits beside the code."""

import shutil
import subprocess
import sys
import zipfile

import pytest

from .conftest import ROOT


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    src = tmp_path_factory.mktemp("src")  # a clean copy: no stale build/ folder may fill the gaps
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for pkg in ("deblurcli", "engines", "trainers"):
        shutil.copytree(ROOT / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0 and "No module named" in r.stderr:
        pytest.skip(f"cannot build a wheel here: {r.stderr.strip().splitlines()[-1]}")
    assert r.returncode == 0, r.stderr
    (whl,) = out.glob("deblurcli-*.whl")
    return set(zipfile.ZipFile(whl).namelist())


def test_wheel_ships_weights_with_their_model_cards(wheel_names):
    shipped = sorted((ROOT / "deblurcli" / "weights").glob("*.safetensors"))
    assert shipped
    for w in shipped:
        assert f"deblurcli/weights/{w.name}" in wheel_names
        assert f"deblurcli/weights/{w.stem}.json" in wheel_names, f"{w.stem}.json (its model card) is not packaged"


def test_wheel_ships_the_verification_images_and_every_package(wheel_names):
    for p in (ROOT / "engines" / "verify_images").glob("*.png"):
        assert f"engines/verify_images/{p.name}" in wheel_names
    for pkg in ("deblurcli/__init__.py", "deblurcli/models/__init__.py", "engines/__init__.py", "trainers/__init__.py"):
        assert pkg in wheel_names
    assert not any(n.startswith("tests/") for n in wheel_names)
