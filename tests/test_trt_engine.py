"""TensorRT: build, load and parity with PyTorch. Needs an NVIDIA GPU and tensorrt; skipped elsewhere."""

import importlib.util

import numpy as np
import pytest

from deblurcli.loading import load_model
from deblurcli.pipeline import Deblurrer
from engines.build import build, open_engine
from engines.torch_engine import TorchEngine
from engines.verify import load_images, output_psnr

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(importlib.util.find_spec("tensorrt") is None, reason="tensorrt is not installed"),
]


@pytest.mark.parametrize("precision,floor", [("fp32", 60.0), ("fp16", 40.0)])
def test_build_load_and_match_pytorch(tiny_weights, tmp_path, precision, floor):
    loaded = load_model(weights=tiny_weights)
    res = build(loaded, "tensorrt", 64, 2, precision, tmp_path, device="cuda:0")
    assert res.path.suffix == ".engine" and res.verification.passed and res.verification.worst >= floor
    assert list(tmp_path.glob("timing-*.cache")), "the timing cache is kept beside the engines"
    again = build(loaded, "tensorrt", 64, 2, precision, tmp_path, device="cuda:0")
    assert again.reused and again.path == res.path
    img = load_images()[0]
    with open_engine(res.path, res.key, "cuda:0") as eng, TorchEngine(loaded.model, device="cuda:0") as ref:
        kw = dict(tile=64, overlap=16, multiple=loaded.pad_multiple, batch=2, fixed_shape=True)
        a, b = Deblurrer(eng, **kw).run(img), Deblurrer(ref, **kw).run(img)
    assert a.dtype == np.float32 and output_psnr(a, b) >= floor


def test_dynamic_profile(tiny_weights, tmp_path):
    loaded = load_model(weights=tiny_weights)
    res = build(loaded, "tensorrt", 64, 2, "fp32", tmp_path, dynamic="32:64:128", device="cuda:0")
    with open_engine(res.path, res.key, "cuda:0") as eng:
        for shape in ((1, 3, 32, 32), (2, 3, 128, 64)):
            assert eng.infer(np.random.rand(*shape).astype(np.float32)).shape == shape
