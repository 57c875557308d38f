"""ONNX export, ONNX Runtime parity on real pixels, build-engine, --engine selection."""

import subprocess
import sys

import numpy as np
import pytest

from deblurcli.images import read_image
from deblurcli.models import create_model, get_spec, model_names
from deblurcli.pipeline import Deblurrer, to_planar
from engines.cache import plan_shapes
from engines.onnx_export import export_onnx
from engines.ort_engine import OrtEngine
from engines.torch_engine import TorchEngine
from engines.verify import output_psnr

from .conftest import DATA, SHARED
from .helpers import one_line_error, run

REAL = SHARED / "data" / "pairs" / "reds_train_000" / "blur" / "00000003.png"


def real_crop(h=150, w=170):
    """A crop of a real blurred REDS frame, not a multiple of any tile."""
    return to_planar(read_image(REAL))[0][:, 300 : 300 + h, 500 : 500 + w]


@pytest.mark.parametrize("arch", model_names())
def test_export_and_onnxruntime_parity_on_real_tiles(arch, tmp_path):
    import torch

    torch.manual_seed(0)
    model = create_model(arch, "tiny").eval()
    cfg = get_spec(arch).config("tiny")
    shapes = plan_shapes(64, 2, cfg.pad_multiple)
    path = export_onnx(model, tmp_path / f"{arch}.onnx", shapes, cfg.pad_multiple)
    img = real_crop()
    kw = dict(tile=shapes.opt[1], overlap=16, multiple=cfg.pad_multiple, batch=2, fixed_shape=True)
    with OrtEngine(path, shapes, threads=2) as ort_eng, TorchEngine(model, device="cpu", threads=2) as ref:
        a = Deblurrer(ort_eng, **kw).run(img)  # 7 tiles in batches of 2: the last batch is padded
        b = Deblurrer(ref, **kw).run(img)
    assert a.shape == img.shape
    assert output_psnr(a, b) > 80, arch


def test_dynamic_range_engine_takes_every_shape_in_range(tmp_path):
    model = create_model("nafnet", "tiny").eval()
    shapes = plan_shapes(64, 2, 4, "32:64:128")
    path = export_onnx(model, tmp_path / "dyn.onnx", shapes, 4)
    img = real_crop(90, 120)
    with OrtEngine(path, shapes, threads=2) as eng, TorchEngine(model, device="cpu", threads=2) as ref:
        a = Deblurrer(eng, tile=128, overlap=16, multiple=4, batch=2).run(img)
        b = Deblurrer(ref, tile=128, overlap=16, multiple=4, batch=2).run(img)
        assert output_psnr(a, b) > 80
        with pytest.raises(ValueError, match="built for 32x32..128x128 tiles, got 256x256"):
            eng.infer(np.zeros((1, 3, 256, 256), np.float32))


def test_build_engine_then_folder_uses_it(tiny_weights, tmp_path, monkeypatch):
    import importlib.util

    import engines.select

    # where OpenVINO is installed, --engine auto prefers it (faster); here it is taken away
    monkeypatch.setattr(engines.select, "_installed", lambda m: m != "openvino" and importlib.util.find_spec(m))
    eng_dir = tmp_path / "eng"
    r = run(
        "build-engine",
        "--weights",
        tiny_weights,
        "--target",
        "onnx",
        "--tile",
        "64",
        "--out",
        eng_dir,
        "--verify-data",
        DATA / "reds" / "blur",
    )
    assert r.exit_code == 0, r.output
    [engine] = list(eng_dir.glob("*.onnx"))
    assert engine.name.startswith("nafnet-tiny-") and "-b1-64x64-fp32-ort" in engine.name
    assert (eng_dir / (engine.name + ".json")).is_file()
    # a second build finds the verified engine instead of rebuilding
    mtime = engine.stat().st_mtime_ns
    r = run(
        "build-engine",
        "--weights",
        tiny_weights,
        "--tile",
        "64",
        "--out",
        eng_dir,
        "--verify-data",
        DATA / "reds" / "blur",
    )
    assert r.exit_code == 0 and "already matches" in r.output and engine.stat().st_mtime_ns == mtime
    # folder --engine auto picks it up; outputs equal PyTorch's to a grey level
    imgs = DATA / "reds" / "blur"
    r = run("folder", imgs, "-o", tmp_path / "ort", "--weights", tiny_weights, "--tile", "64", "--engine-dir", eng_dir)
    assert r.exit_code == 0, r.output
    assert "onnxruntime on cpu" in r.output
    r = run("folder", imgs, "-o", tmp_path / "pt", "--weights", tiny_weights, "--tile", "64", "--engine", "torch", "-q")
    assert r.exit_code == 0, r.output
    for p in imgs.iterdir():
        a = read_image(tmp_path / "ort" / p.name).astype(int)
        b = read_image(tmp_path / "pt" / p.name).astype(int)
        assert np.abs(a - b).max() <= 1, p.name


def test_engine_onnxruntime_builds_a_missing_engine(tiny_weights, tmp_path, caplog):
    r = run(
        "folder",
        DATA / "gopro" / "blur",
        "-o",
        tmp_path / "o",
        "--weights",
        tiny_weights,
        "--tile",
        "64",
        "--engine",
        "onnxruntime",
        "--engine-dir",
        tmp_path / "eng",
    )
    assert r.exit_code == 0, r.output
    assert "no ONNX engine for nafnet (tiny) at tile 64, batch 1 yet: building one" in caplog.text
    assert len(list((tmp_path / "eng").glob("*.onnx"))) == 1
    assert len(list((tmp_path / "o").iterdir())) == len(list((DATA / "gopro" / "blur").iterdir()))


def test_verification_refuses_a_corrupted_graph(tiny_weights, tmp_path, monkeypatch):
    import onnx
    from onnx import numpy_helper

    import engines.build as build_mod

    real_export = build_mod.export_onnx

    def corrupted_export(model, path, shapes, multiple, opset):
        real_export(model, path, shapes, multiple, opset)
        g = onnx.load(str(path))
        # the last convolution's weights, scaled: a graph that runs but computes something else
        conv = [n for n in g.graph.node if n.op_type == "Conv"][-1]
        init = next(i for i in g.graph.initializer if i.name == conv.input[1])
        init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * 3.0, init.name))
        onnx.save(g, str(path))
        return path

    monkeypatch.setattr(build_mod, "export_onnx", corrupted_export)
    eng_dir = tmp_path / "eng"
    r = run("build-engine", "--weights", tiny_weights, "--tile", "64", "--out", eng_dir)
    assert r.exit_code == 2
    *progress, msg = r.output.strip().splitlines()  # progress lines, then the one-line error
    assert msg.startswith("Error: ") and all(not p.startswith("Error") for p in progress)
    assert "verification failed" in msg and "below the 60 dB needed for fp32; engine deleted" in msg
    assert list(eng_dir.iterdir()) == []


def test_tensorrt_without_a_gpu_is_one_line_naming_onnx(tiny_weights, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    r = run("build-engine", "--weights", tiny_weights, "--target", "tensorrt", "--out", tmp_path)
    assert r.exit_code == 2
    msg = one_line_error(r)
    assert "TensorRT needs an NVIDIA GPU" in msg and "--target onnx" in msg
    r = run("folder", DATA / "reds" / "blur", "-o", tmp_path / "o", "--weights", tiny_weights, "--engine", "tensorrt")
    assert r.exit_code == 2 and "TensorRT needs an NVIDIA GPU" in one_line_error(r)
    assert not (tmp_path / "o").exists()


def test_fp16_onnx_on_cpu_is_refused_clearly(tiny_weights, tmp_path):
    r = run("build-engine", "--weights", tiny_weights, "--precision", "fp16", "--out", tmp_path)
    assert r.exit_code == 2 and "use --precision fp32 on the CPU" in one_line_error(r)


def test_importing_deblurcli_imports_no_engine_runtime():
    code = (
        "import sys, deblurcli, deblurcli.cli, engines, engines.base; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('onnx', 'onnxruntime', 'tensorrt')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_auto_remembers_an_openvino_build_that_failed(tiny_weights, tmp_path, monkeypatch, caplog):
    """A model OpenVINO cannot take (Uptimus at dynamic shapes) costs the failed export once, not on every run;
    naming the back end tries again."""
    import engines.select as sel
    from deblurcli.loading import load_model

    calls = []

    def failing_build(loaded, backend, *args, **kwargs):
        calls.append(backend)
        raise sel.EngineError("this graph exports only at static shapes")

    monkeypatch.setattr(sel, "build", failing_build)
    loaded = load_model(weights=tiny_weights)
    for _ in range(2):
        chosen = sel.select_engine("auto", loaded, "cpu", "auto", 1, 512, 1, tmp_path)
        assert type(chosen.engine).__name__ == "TorchEngine"
    assert calls == ["openvino"]
    assert "an earlier build" in caplog.text and "static shapes" in caplog.text
    assert len(list(tmp_path.glob("*.failed.json"))) == 1
    with pytest.raises(sel.EngineError, match="static shapes"):
        sel.select_engine("openvino", loaded, "cpu", "auto", 1, 512, 1, tmp_path)
    assert calls == ["openvino", "openvino"]


def test_openvino_compiles_a_shape_met_twice_with_the_same_output():
    """The second image (or tile) of one size runs on a graph compiled for exactly that size (faster in
    OpenVINO); its output equals the dynamic graph's, and only the two most recent sizes are kept."""
    pytest.importorskip("openvino")
    import torch

    from engines.openvino_engine import OpenVinoEngine

    torch.manual_seed(0)
    model = create_model("nafnet", "tiny").eval()
    eng = OpenVinoEngine.from_model(model, precision="fp32", threads=2, max_side=256)
    x = real_crop(64, 96)[None]
    first = eng.infer(x)
    assert not eng.exact
    second = eng.infer(x)
    assert list(eng.exact) == [x.shape]
    assert np.abs(first - second).max() < 1e-4
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    assert np.abs(second - ref).max() < 1e-4
    for h in (32, 48, 32, 48):
        eng.infer(real_crop(h, 64)[None])
    assert list(eng.exact) == [(1, 3, 32, 64), (1, 3, 48, 64)]


def test_a_cached_openvino_engine_runs_without_importing_torch(tmp_path, tiny_weights):
    """Once the engine is built, 'deblurcli folder' on a CPU opens it without torch (648 MB and seconds of
    start-up saved) and writes the same pixels as the run that built it."""
    pytest.importorskip("openvino")
    import cv2

    src = tmp_path / "in"
    src.mkdir()
    frame = sorted((DATA / "reds" / "blur").glob("*.png"))[0]
    cv2.imwrite(str(src / "a.png"), cv2.imread(str(frame))[:96, :128])
    base = ["folder", str(src), "--weights", str(tiny_weights), "--engine-dir", str(tmp_path / "eng"), "-q"]
    r = run(*base, "-o", tmp_path / "built", "--device", "cpu")
    assert r.exit_code == 0, r.output
    code = (
        "import sys; from deblurcli.cli import main\n"
        "try: main(sys.argv[1:], prog_name='deblurcli')\n"
        "finally: print('torch' in sys.modules)"
    )
    for device in ("cpu", "auto"):
        out = tmp_path / f"cached-{device}"
        p = subprocess.run(
            [sys.executable, "-c", code, *base, "-o", str(out), "--device", device], capture_output=True, text=True
        )
        assert p.returncode == 0, p.stderr
        if device == "cpu" or not _cuda_possible():
            assert p.stdout.split() == ["False"], f"torch was imported with --device {device}"
        a, b = (cv2.imread(str(d / "a.png")) for d in (tmp_path / "built", out))
        assert np.array_equal(a, b)


def _cuda_possible() -> bool:
    from deblurcli.inference import _cuda_possible as possible

    return possible()
