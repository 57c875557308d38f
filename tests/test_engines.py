import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from deblurcli.models import create_model
from engines import Engine
from engines.torch_engine import EngineError, TorchEngine

from .conftest import DATA
from .helpers import one_line_error, run


def test_torch_engine_follows_the_protocol():
    m = create_model("nafnet", "tiny")
    with TorchEngine(m, device="cpu", threads=1) as eng:
        assert isinstance(eng, Engine)
        assert (eng.info.name, eng.info.device, eng.info.precision, eng.info.threads) == ("torch", "cpu", "fp32", 1)
        x = np.random.default_rng(0).random((3, 3, 32, 48), dtype=np.float32)
        y = eng.infer(x)
        assert y.shape == x.shape and y.dtype == np.float32
        with torch.inference_mode():
            ref = m(torch.from_numpy(x)).numpy()
        assert np.array_equal(y, ref)
        with pytest.raises(ValueError, match=r"\(N, 3, h, w\)"):
            eng.infer(x[:, :2])


def test_no_half_precision_on_cpu():
    with pytest.raises(EngineError, match="fp16 on the CPU"):
        TorchEngine(create_model("nafnet", "tiny"), device="cpu", precision="fp16")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_gpu_is_one_clear_error():
    with pytest.raises(EngineError, match="no CUDA GPU is available here; use --device cpu"):
        TorchEngine(create_model("nafnet", "tiny"), device="cuda")


@pytest.mark.gpu
@pytest.mark.parametrize("precision,tol", [("fp16", 2e-2), ("bf16", 6e-2)])
def test_cuda_half_precision_matches_fp32(precision, tol):
    m = create_model("nafnet", "tiny")
    x = np.random.default_rng(0).random((2, 3, 64, 64), dtype=np.float32)
    with TorchEngine(m, device="cpu") as cpu:
        ref = cpu.infer(x)
    with TorchEngine(create_model("nafnet", "tiny"), device="cuda", precision=precision) as eng:
        eng.model.load_state_dict(m.state_dict())
        assert np.abs(eng.infer(x) - ref).max() < tol


def test_importing_the_package_imports_no_heavy_backend():
    code = (
        "import sys, deblurcli, deblurcli.cli, engines, deblurcli.pipeline; "
        "print(any(k in sys.modules for k in ('tensorrt', 'onnxruntime', 'rich')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_self_ensemble_undoes_every_transform():
    """Each flip/rotation is undone before averaging: a model that commutes with them is unchanged, and one
    that adds a left-to-right ramp has it averaged with its mirror image."""
    from engines.ensemble import Ensemble

    rng = np.random.default_rng(0)
    x = rng.random((1, 3, 6, 10), dtype=np.float32)
    for n in (2, 4, 8):
        assert np.allclose(Ensemble(lambda b: b * 2, n)(x), x * 2)
    ramp = np.linspace(0, 1, 10, dtype=np.float32)

    def tilted(b):
        return b + np.linspace(0, 1, b.shape[-1], dtype=np.float32)

    assert np.allclose(Ensemble(tilted, 2)(x), x + (ramp + ramp[::-1]) / 2)


def test_ensemble_option_runs_through_folder_and_changes_the_output(tmp_path, tiny_weights):
    from .helpers import run

    src = tmp_path / "in"
    src.mkdir()
    img = cv2.imread(str(sorted((DATA / "reds" / "blur").glob("*.png"))[0]))[:90, :150]
    cv2.imwrite(str(src / "a.png"), img)
    outs = {}
    for n in ("1", "8"):
        r = run(
            "folder", src, "-o", tmp_path / n, "--weights", tiny_weights, "--engine", "torch", "--ensemble", n, "-q"
        )
        assert r.exit_code == 0, r.output
        outs[n] = cv2.imread(str(tmp_path / n / "a.png"))
    assert outs["8"].shape == img.shape and not np.array_equal(outs["1"], outs["8"])
    r = run("folder", src, "-o", tmp_path / "x", "--weights", tiny_weights, "--ensemble", "3")
    assert r.exit_code == 2 and "--ensemble" in r.output


@pytest.mark.slow  # compiling takes ~30 s
def test_compile_option_runs_the_torch_engine_with_equal_output(tmp_path, tiny_weights):
    src = tmp_path / "in"
    src.mkdir()
    frame = sorted((DATA / "reds" / "blur").glob("*.png"))[0]
    cv2.imwrite(str(src / "a.png"), cv2.imread(str(frame))[:64, :96])
    base = ["folder", src, "--weights", tiny_weights, "--precision", "fp32", "-q", "--json"]
    r = run(*base, tmp_path / "e.json", "-o", tmp_path / "eager", "--engine", "torch")
    assert r.exit_code == 0, r.output
    r = run(*base, tmp_path / "c.json", "-o", tmp_path / "compiled", "--compile")
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "c.json").read_text())["engine"]["name"] == "torch.compile"
    eager, compiled = (cv2.imread(str(tmp_path / d / "a.png")).astype(int) for d in ("eager", "compiled"))
    assert np.abs(eager - compiled).max() <= 1


def test_compile_with_another_engine_is_one_line_exit_2(tmp_path, tiny_weights):
    r = run("folder", DATA / "reds" / "blur", "-o", tmp_path / "o", "--weights", tiny_weights, "--compile",
            "--engine", "openvino")  # fmt: skip
    assert r.exit_code == 2
    assert "--compile runs the PyTorch engine" in one_line_error(r)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_allocator_tuning_applies_once_and_can_be_turned_off():
    code = "from deblurcli.runtime import tune_allocator as t; print(t(), t())"
    on = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    env = {**os.environ, "DEBLURCLI_NO_MALLOPT": "1"}
    off = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    if sys.platform.startswith("linux"):
        assert on.stdout.split() == ["True", "True"]
    assert off.stdout.split() == ["False", "False"]
