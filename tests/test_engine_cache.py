"""Engine cache keys and shape planning: what invalidates a built engine."""

import dataclasses
import json

import pytest

from engines.cache import EngineKey, ShapeRange, find_engine, near_misses, plan_shapes, write_sidecar

BASE = EngineKey(
    "tensorrt",
    "10.13.0",
    "nafnet",
    "small",
    "0123456789abcdef",
    ShapeRange((1, 256, 256), (1, 256, 256), (1, 256, 256)),
    "fp16",
    "NVIDIA L4",
    "8.9",
    18,
)

CHANGES = {
    "backend": "onnxruntime",
    "backend_version": "11.0.1",
    "arch": "uptimus",
    "variant": "tiny",
    "weights": "fedcba9876543210",
    "shapes": ShapeRange((2, 256, 256), (2, 256, 256), (2, 256, 256)),
    "precision": "bf16",
    "device": "NVIDIA A100-SXM4-80GB",
    "compute_capability": "8.0",
    "opset": 19,
    "deblurcli_version": "9.9.9",
    "torch_version": "2.99.0+cpu",
    "model_code": "0123456789ab",
}


def test_changes_cover_every_field_of_the_key():
    assert set(CHANGES) == {f.name for f in dataclasses.fields(EngineKey)}


def test_key_records_the_running_deblurcli_and_torch():
    import torch

    import deblurcli

    assert BASE.deblurcli_version == deblurcli.__version__ and BASE.torch_version == torch.__version__


def test_key_follows_the_model_code(tmp_path, monkeypatch):
    """An engine exported from other model code (same version number) is not reused: the key hashes the
    model definitions' source."""
    from engines import cache

    assert BASE.model_code == cache.model_code_digest()
    fake = tmp_path / "models"
    fake.mkdir()
    for f in cache.models_dir().glob("*.py"):
        (fake / f.name).write_bytes(f.read_bytes())
    monkeypatch.setattr(cache, "models_dir", lambda: fake)
    cache.model_code_digest.cache_clear()
    try:
        assert cache.model_code_digest() == BASE.model_code
        (fake / "nafnet.py").write_text((fake / "nafnet.py").read_text() + "\n# changed\n")
        cache.model_code_digest.cache_clear()
        assert cache.model_code_digest() != BASE.model_code
    finally:
        monkeypatch.undo()
        cache.model_code_digest.cache_clear()


def test_sidecar_without_versions_never_matches_a_new_key():
    """Engines built before the versions were part of the key must be rebuilt, not reused."""
    old = {
        k: v
        for k, v in json.loads(json.dumps(BASE.to_dict())).items()
        if (not k.endswith("_version") or k == "backend_version") and k != "model_code"
    }
    assert EngineKey.from_dict(old).digest() != BASE.digest()


@pytest.mark.parametrize("field", sorted(CHANGES))
def test_every_part_of_the_key_changes_the_file_name(field):
    other = dataclasses.replace(BASE, **{field: CHANGES[field]})
    assert other.digest() != BASE.digest()
    assert other.filename() != BASE.filename()


def test_tile_shape_is_part_of_the_key():
    other = dataclasses.replace(BASE, shapes=plan_shapes(512, 1, 16))
    assert other.filename() != BASE.filename() and "512x512" in other.filename()


def test_file_name_is_readable_and_round_trips():
    name = BASE.filename()
    assert name.startswith("nafnet-small-01234567-b1-256x256-fp16-trt10.13.0-nvidia_l4-sm89-")
    assert name.endswith(".engine")
    assert EngineKey.from_dict(json.loads(json.dumps(BASE.to_dict()))) == BASE


def test_lookup_needs_a_verified_sidecar_and_names_what_differs(tmp_path):
    path = tmp_path / BASE.filename()
    path.write_bytes(b"plan")
    assert find_engine(BASE, tmp_path) is None  # no sidecar: not verified, not used
    write_sidecar(path, BASE, {"verified": True})
    assert find_engine(BASE, tmp_path) == path
    want = dataclasses.replace(BASE, precision="fp32", weights="ffffffffffffffff")
    assert find_engine(want, tmp_path) is None
    [(p, diff)] = near_misses(want, tmp_path)
    assert p == path and sorted(diff) == ["precision", "weights"]


def test_shape_planning():
    assert plan_shapes(250, 2, 16) == ShapeRange((2, 256, 256), (2, 256, 256), (2, 256, 256))
    dyn = plan_shapes(256, 4, 16, "100:256:512")
    assert dyn == ShapeRange((1, 112, 112), (4, 256, 256), (4, 512, 512)) and not dyn.static
    assert dyn.accepts(3, 128, 512) and not dyn.accepts(5, 256, 256) and not dyn.accepts(1, 96, 96)
    for bad in ("256", "a:b:c", "512:256:128", "0:256:512"):
        with pytest.raises(ValueError):
            plan_shapes(256, 1, 16, bad)
    with pytest.raises(ValueError, match="outside"):
        plan_shapes(1024, 1, 16, "128:256:512")
