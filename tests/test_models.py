import dataclasses
import inspect

import pytest
import torch

from deblurcli.models import config_from_json, config_to_json, create_model, get_spec, model_names
from deblurcli.models.stats import count_parameters, gmacs_per_megapixel

from .conftest import SEED


def test_registry_has_the_foundation_architectures():
    assert set(model_names()) == {"nafnet", "uptimus", "resunet", "efficientnet_b4", "vgg19"}
    for name in model_names():
        spec = get_spec(name)
        assert "tiny" in spec.variants and spec.default_variant in spec.variants
        assert spec.builder.__module__.endswith(name)  # one architecture per file
        assert "20" in inspect.getmodule(spec.builder).__doc__  # cites its paper (year)


@pytest.mark.parametrize("name", ["nafnet", "uptimus", "resunet", "efficientnet_b4", "vgg19"])
@pytest.mark.parametrize("hw", [(1, 1), (17, 31), (64, 64), (37, 100)])
def test_tiny_models_return_the_input_size(name, hw):
    torch.manual_seed(0)
    m = create_model(name, "tiny").eval()
    x = torch.rand(2, 3, *hw)
    with torch.inference_mode():
        y = m(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", ["nafnet", "uptimus", "resunet", "efficientnet_b4", "vgg19"])
def test_configs_are_frozen_and_roundtrip_through_json(name):
    spec = get_spec(name)
    for cfg in spec.variants.values():
        with pytest.raises(dataclasses.FrozenInstanceError):
            cfg.tile = 1
        assert config_from_json(name, config_to_json(cfg)) == cfg
        assert cfg.tile % cfg.pad_multiple == 0


def test_no_mutable_default_arguments():
    import deblurcli.models.efficientnet_b4 as e
    import deblurcli.models.nafnet as a
    import deblurcli.models.resunet as b
    import deblurcli.models.transfer as d
    import deblurcli.models.uptimus as c
    import deblurcli.models.vgg19 as f

    for mod in (a, b, c, d, e, f):
        for _, obj in inspect.getmembers(mod, inspect.isclass):
            if obj.__module__ != mod.__name__:
                continue
            for p in inspect.signature(obj.__init__).parameters.values():
                assert not isinstance(p.default, (list, dict, set)), (obj, p)


def test_nafnet_paper_sizes():
    # Chen et al. 2022 report 17.11M (w32) and 67.89M (w64) parameters for GoPro
    with torch.device("meta"):
        assert abs(count_parameters(create_model("nafnet", "w32")) / 1e6 - 17.11) < 0.01
        w64 = create_model("nafnet", "w64")
        assert abs(count_parameters(w64) / 1e6 - 67.89) < 0.01
        # and 63.6 GMACs per 256x256 input for w64
        assert abs(gmacs_per_megapixel(w64) * 256 * 256 / 1e6 - 63.6) < 1.0


def test_nafnet_gate_in_halves_equals_convolving_then_splitting():
    """NAFNet's SimpleGate is computed as two half-width branches (no channel Split in exported graphs); it must
    give exactly what the paper's form gives: convolve every channel, split them in two, multiply."""
    from deblurcli.models.nafnet import simple_gate

    torch.manual_seed(0)
    pointwise, depthwise = torch.nn.Conv2d(8, 16, 1), torch.nn.Conv2d(16, 16, 3, padding=1, groups=16)
    x = torch.rand(2, 8, 24, 40)
    with torch.no_grad():
        a, b = depthwise(pointwise(x)).chunk(2, dim=1)
        assert torch.equal(simple_gate(x, pointwise, depthwise), a * b)
        a, b = pointwise(x).chunk(2, dim=1)
        assert torch.equal(simple_gate(x, pointwise), a * b)


def test_resunet_is_a_global_residual():
    m = create_model("resunet", "tiny").eval()
    for p in m.head.parameters():
        torch.nn.init.zeros_(p)
    x = torch.rand(1, 3, 20, 24)
    with torch.inference_mode():
        assert torch.equal(m(x), x)


def test_study_checkpoint_loads_strictly_into_uptimus():
    from deblurcli.checkpoints import read_checkpoint

    ckpt = read_checkpoint(SEED)
    m = create_model("uptimus")
    m.load_state_dict(ckpt.state_dict, strict=True)
    assert count_parameters(m) == 249_819
    assert ckpt.metadata["source_epoch"] == "65"
    assert abs(float(ckpt.metadata["source_psnr"]) - 29.044) < 1e-3
