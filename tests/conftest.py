import hashlib
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SHARED = ROOT.parent / "shared"
SEED = SHARED / "seed" / "Uptimus.pth"


def _uses_shared(item) -> bool:
    """A test whose module reads the development workspace's shared data (../shared)."""
    names = getattr(item.module, "__dict__", {})
    return "SHARED" in names or "reds_frames" in names or "SEED" in names


def pytest_collection_modifyitems(config, items):
    no_gpu = pytest.mark.skip(reason="needs an NVIDIA GPU with CUDA")
    no_shared = pytest.mark.skip(reason=f"needs the shared development data in {SHARED}")
    for item in items:
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(no_gpu)
        if not SHARED.is_dir() and _uses_shared(item):
            item.add_marker(no_shared)


def tree_hash(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file below root."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """A tiny NAFNet with random weights in the project's checkpoint format."""
    from deblurcli.checkpoints import save_checkpoint
    from deblurcli.models import create_model, get_spec

    torch.manual_seed(0)
    model = create_model("nafnet", "tiny")
    path = tmp_path_factory.mktemp("weights") / "nafnet-tiny.safetensors"
    save_checkpoint(
        path,
        model.state_dict(),
        "nafnet",
        get_spec("nafnet").config("tiny"),
        training_data="none (random weights for tests)",
        steps=0,
    )
    return path


@pytest.fixture
def images(tmp_path) -> Path:
    """A folder of small real images: blur frames, a JPEG, gray, RGBA."""
    import shutil

    d = tmp_path / "imgs"
    d.mkdir()
    for p in (DATA / "reds" / "blur").glob("*.png"):
        shutil.copy(p, d / f"reds_{p.name}")
    for p in (DATA / "gopro" / "blur").glob("*.png"):
        shutil.copy(p, d / f"gopro_{p.name}")
    for p in (DATA / "photos").iterdir():
        shutil.copy(p, d / p.name)
    return d


@pytest.fixture(autouse=True)
def _private_engine_cache(session_engine_dir, monkeypatch):
    """Tests never see (or fill) the user's engine cache; they share one for the session, so the OpenVINO
    engine that --engine auto builds for the tiny test model is built once."""
    monkeypatch.setenv("DEBLURCLI_ENGINE_DIR", str(session_engine_dir))


@pytest.fixture(scope="session")
def session_engine_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("engines")
