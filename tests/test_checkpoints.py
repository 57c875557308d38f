import pytest
import torch

from deblurcli.checkpoints import build_model, read_checkpoint, save_checkpoint
from deblurcli.errors import CheckpointError, WeightsMissing
from deblurcli.loading import load_model
from deblurcli.models import create_model, get_spec

from .conftest import SEED


def test_safetensors_roundtrip_rebuilds_model_from_file_alone(tmp_path):
    torch.manual_seed(1)
    m = create_model("resunet", "tiny")
    cfg = get_spec("resunet").config("tiny")
    p = save_checkpoint(
        tmp_path / "r.safetensors",
        m.state_dict(),
        "resunet",
        cfg,
        training_data="GoPro",
        steps=123,
        val_psnr=27.5,
        val_ssim=0.88,
    )
    ckpt = read_checkpoint(p)
    assert ckpt.kind == "safetensors"
    assert ckpt.metadata["arch"] == "resunet" and ckpt.metadata["variant"] == "tiny"
    assert ckpt.metadata["steps"] == "123" and ckpt.metadata["val_psnr"] == "27.5"
    model, name, variant, cfg2 = build_model(ckpt)
    assert (name, variant, cfg2) == ("resunet", "tiny", cfg)
    for k, v in m.state_dict().items():
        assert torch.equal(model.state_dict()[k], v)
    assert not list(tmp_path.glob(".*tmp"))


def test_half_checkpoint_is_half_the_size_and_loads(tmp_path):
    m = create_model("uptimus")
    cfg = get_spec("uptimus").config()
    full = save_checkpoint(tmp_path / "a.safetensors", m.state_dict(), "uptimus", cfg)
    half = save_checkpoint(tmp_path / "b.safetensors", m.state_dict(), "uptimus", cfg, half=True)
    assert half.stat().st_size < 0.55 * full.stat().st_size
    model, *_ = build_model(read_checkpoint(half))
    assert next(model.parameters()).dtype == torch.float32


def test_pth_is_matched_by_parameter_names_and_shapes():
    ckpt = read_checkpoint(SEED)
    assert ckpt.kind == "torch" and ckpt.arch is None
    _, name, variant, _ = build_model(ckpt)
    assert (name, variant) == ("uptimus", "default")


@pytest.mark.parametrize(
    "content,found",
    [
        (b"", "an empty file"),
        (b"hello, these are not weights\n", "text"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "an image"),
    ],
)
def test_not_a_checkpoint_says_what_it_found(tmp_path, content, found):
    p = tmp_path / "w.safetensors"
    p.write_bytes(content)
    with pytest.raises(CheckpointError) as e:
        read_checkpoint(p)
    msg = str(e.value)
    assert "\n" not in msg and "expected a .safetensors file or a torch .pth" in msg and found in msg


def test_weights_for_another_architecture_are_refused(tmp_path, tiny_weights):
    with pytest.raises(CheckpointError, match="holds weights for 'nafnet', not 'uptimus'"):
        load_model("uptimus", None, tiny_weights)
    with pytest.raises(CheckpointError, match=r"does not fit nafnet \(small\).*they fit uptimus"):
        load_model("nafnet", None, SEED)


def test_unsafe_pickle_is_refused(tmp_path):
    p = tmp_path / "evil.pth"
    torch.save({"model_state_dict": {"w": torch.zeros(1)}, "obj": _Custom()}, p)
    with pytest.raises(CheckpointError, match="unsafe pickle"):
        read_checkpoint(p)


class _Custom:
    pass


def test_missing_weights_say_how_to_supply_them(monkeypatch, tmp_path):
    import deblurcli.loading as L

    monkeypatch.setattr(L, "PACKAGE_WEIGHTS", tmp_path)
    monkeypatch.delenv("DEBLURCLI_WEIGHTS_DIR", raising=False)
    with pytest.raises(WeightsMissing, match=r"no trained weights for nafnet \(small\).*--weights FILE"):
        load_model()


def test_weights_dir_from_environment(monkeypatch, tmp_path, tiny_weights):
    import shutil

    shutil.copy(tiny_weights, tmp_path / "nafnet-tiny.safetensors")
    monkeypatch.setenv("DEBLURCLI_WEIGHTS_DIR", str(tmp_path))
    loaded = load_model("nafnet", "tiny")
    assert loaded.weights.parent == tmp_path and loaded.arch == "nafnet"


def test_safetensors_header_starting_with_0x80_is_not_taken_for_a_pickle(tmp_path):
    # regression: a header of 0x..80 bytes looked like a legacy torch pickle
    from safetensors.torch import save_file

    from deblurcli.checkpoints import sniff

    for pad in range(300):
        p = tmp_path / "x.safetensors"
        save_file({"w": torch.zeros(1)}, str(p), metadata={"pad": "x" * pad})
        if p.read_bytes()[0] == 0x80:
            break
    else:
        pytest.fail("could not make a header starting with 0x80")
    assert sniff(p) == "safetensors"
    assert read_checkpoint(p).metadata["pad"] == "x" * pad


def test_saved_checkpoints_get_the_usual_file_mode(tmp_path):
    import os

    from deblurcli.checkpoints import save_checkpoint
    from deblurcli.models import create_model, get_spec

    old = os.umask(0o022)
    try:
        path = save_checkpoint(
            tmp_path / "w.safetensors",
            create_model("nafnet", "tiny").state_dict(),
            "nafnet",
            get_spec("nafnet").config("tiny"),
        )
    finally:
        os.umask(old)
    assert (os.stat(path).st_mode & 0o777) == 0o644  # readable by the group and others, like any new file
