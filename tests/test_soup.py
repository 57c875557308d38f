"""trainers/recipes/soup.py: the weighted average of fine-tunes that share a start (the shipped default is one)."""

import importlib.util

import torch

from deblurcli.checkpoints import read_checkpoint, save_checkpoint
from deblurcli.models import create_model

from .conftest import ROOT

SOUP = ROOT / "trainers" / "recipes" / "soup.py"
_spec = importlib.util.spec_from_file_location("soup_recipe", SOUP)
soup_recipe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(soup_recipe)


def tiny(path, seed, variant="tiny", arch="nafnet"):
    torch.manual_seed(seed)
    m = create_model(arch, variant)
    save_checkpoint(path, m.state_dict(), arch, m.config, steps=seed, training_data=f"set{seed}")
    return {k: v.clone() for k, v in m.state_dict().items()}


class Result:
    def __init__(self, returncode, stderr):
        self.returncode, self.stderr = returncode, stderr


def run(capsys, *args):
    """The script's main() in this process (importing torch once per test run, not per call)."""
    code = soup_recipe.main([str(a) for a in args])
    return Result(code, capsys.readouterr().err)


def test_a_soup_is_the_weighted_mean_of_its_ingredients_with_their_names_in_the_metadata(tmp_path, capsys):
    a, b = tiny(tmp_path / "a.safetensors", 1), tiny(tmp_path / "b.safetensors", 2)
    r = run(
        capsys,
        tmp_path / "a.safetensors",
        tmp_path / "b.safetensors",
        "--weight",
        3,
        "--weight",
        1,
        "-o",
        tmp_path / "s",
    )
    assert r.returncode == 0, r.stderr
    out = read_checkpoint(tmp_path / "s")
    for k, v in out.state_dict.items():
        assert torch.allclose(v, 0.75 * a[k].float() + 0.25 * b[k].float(), atol=1e-7), k
    assert out.metadata["arch"] == "nafnet" and out.metadata["variant"] == "tiny"
    assert out.metadata["steps"] == "1" and "a.safetensors" in out.metadata["soup"]
    assert '"weight": 0.25' in out.metadata["soup"]


def test_ingredients_of_other_shapes_make_no_soup_and_write_nothing(tmp_path, capsys):
    tiny(tmp_path / "a.safetensors", 1)
    tiny(tmp_path / "b.safetensors", 2, variant="small")
    r = run(capsys, tmp_path / "a.safetensors", tmp_path / "b.safetensors", "-o", tmp_path / "s.safetensors")
    assert r.returncode == 2
    assert r.stderr.strip().startswith("soup: b.safetensors is nafnet with another configuration")
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "s.safetensors").exists()
    r = run(capsys, tmp_path / "a.safetensors", "-o", tmp_path / "s.safetensors")
    assert r.returncode == 2 and "at least two" in r.stderr
