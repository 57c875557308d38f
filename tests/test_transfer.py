"""The transfer-learning architectures: EfficientNet-B4 and VGG19 U-Nets."""

import logging
import shutil

import pytest
import torch
import torchvision

from deblurcli.models import create_model, transfer
from deblurcli.models.transfer import BackboneError, load_backbone

ARCHS = {"efficientnet_b4": torchvision.models.efficientnet_b4, "vgg19": torchvision.models.vgg19}


@pytest.fixture(autouse=True)
def empty_hub(tmp_path, monkeypatch):
    """No torch hub cache unless a test makes one."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    transfer._warned.clear()


def _snapshot(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("arch", ARCHS)
def test_backbone_file_changes_exactly_the_encoder(tmp_path, arch):
    torch.manual_seed(0)
    tv = ARCHS[arch](weights=None)
    with torch.no_grad():  # torchvision zero-initialises biases: make every tensor distinct
        for v in tv.state_dict().values():
            if v.is_floating_point():
                v.uniform_(0.5, 1.5)
    path = tmp_path / "backbone.pth"
    torch.save(tv.state_dict(), path)
    torch.manual_seed(1)
    model = create_model(arch, "tiny")
    before = _snapshot(model)
    assert load_backbone(model, path) == str(path)
    after = model.state_dict()
    for k, v in after.items():
        changed = not torch.equal(before[k], v)
        if k.startswith("backbone.") and v.is_floating_point():
            assert changed, k
        if not k.startswith("backbone."):
            assert not changed, k
        if k.startswith("backbone."):
            assert torch.equal(v, tv.state_dict()["features." + k[len("backbone.") :]])


@pytest.mark.parametrize("arch", ARCHS)
def test_hub_cache_is_used_and_random_backbone_is_announced_once(tmp_path, arch, caplog):
    model = create_model(arch, "tiny")
    with caplog.at_level(logging.WARNING, logger="deblurcli"):
        assert load_backbone(model) == "random"
        assert load_backbone(create_model(arch, "tiny")) == "random"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "random backbone" in lines[0] and "--backbone-weights" in lines[0]
    hub = tmp_path / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    torch.save(ARCHS[arch](weights=None).state_dict(), hub / model.backbone_files[0])
    assert load_backbone(model) == str(hub / model.backbone_files[0])


def test_wrong_backbone_file_is_one_clear_error(tmp_path):
    path = tmp_path / "vgg.pth"
    torch.save(torchvision.models.vgg19(weights=None).state_dict(), path)
    with pytest.raises(BackboneError, match="does not fit the efficientnet_b4 backbone"):
        load_backbone(create_model("efficientnet_b4", "tiny"), path)
    (tmp_path / "junk.pth").write_text("junk")
    with pytest.raises(BackboneError, match="cannot read backbone weights"):
        load_backbone(create_model("vgg19", "tiny"), tmp_path / "junk.pth")


@pytest.mark.parametrize("arch", ARCHS)
def test_frozen_backbone_is_untouched_by_an_optimiser_step(arch):
    torch.manual_seed(0)
    model = create_model(arch, "tiny")
    groups = model.param_groups()
    assert len(groups["backbone"]) + len(groups["decoder"]) == len(list(model.parameters()))
    model.freeze_backbone()
    model.train()
    before = _snapshot(model)
    opt = torch.optim.AdamW(
        [{"params": groups["backbone"], "lr": 1e-4}, {"params": groups["decoder"]}], lr=1e-2, weight_decay=0.1
    )
    x = torch.rand(2, 3, 64, 64)
    loss = (model(x) - x.flip(-1)).abs().mean()
    loss.backward()
    opt.step()
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in after if k.startswith("backbone."))  # BN stats too
    assert any(not torch.equal(before[k], after[k]) for k in after if not k.startswith("backbone."))
    model.freeze_backbone(False)
    model.train()
    assert model.backbone.training and all(p.requires_grad for p in groups["backbone"])


@pytest.mark.parametrize("arch", ARCHS)
def test_imagenet_normalisation_is_inside_the_model(arch):
    model = create_model(arch, "tiny").eval()
    assert "mean" not in model.state_dict()  # not a weight: never in checkpoints
    for p in model.head.parameters():
        torch.nn.init.zeros_(p)
    x = torch.rand(1, 3, 48, 40)
    with torch.inference_mode():
        assert torch.equal(model(x), x)  # global residual: RGB [0, 1] in and out


@pytest.mark.parametrize("arch", ARCHS)
def test_runs_through_deblurcli_folder(tmp_path, arch):
    import cv2
    from click.testing import CliRunner

    from deblurcli.checkpoints import save_checkpoint
    from deblurcli.cli import main
    from deblurcli.models import get_spec

    from .conftest import DATA

    w = tmp_path / f"{arch}.safetensors"
    save_checkpoint(w, create_model(arch, "tiny").state_dict(), arch, get_spec(arch).config("tiny"))
    src = tmp_path / "in"
    shutil.copytree(DATA / "gopro" / "blur", src)
    # --engine torch: OpenVINO builds of every architecture are tested by test_train (folder after training)
    r = CliRunner().invoke(main, ["folder", str(src), "--weights", str(w), "-q", "--engine", "torch"])
    assert r.exit_code == 0, r.output
    for p in src.iterdir():
        assert cv2.imread(str(tmp_path / "in-deblurred" / p.name)).shape == cv2.imread(str(p)).shape
