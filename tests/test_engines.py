import subprocess
import sys

import numpy as np
import pytest
import torch

from deblurcli.models import create_model
from engines import Engine
from engines.torch_engine import EngineError, TorchEngine


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
