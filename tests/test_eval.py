"""`deblurcli eval`: the numbers are scikit-image's, on what `folder` writes."""

import json

import cv2
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from .conftest import DATA, ROOT
from .helpers import one_line_error, run


def rgb(path):
    return cv2.imread(str(path), cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float64) / 255.0


def test_eval_numbers_equal_scikit_image(tmp_path, tiny_weights, monkeypatch):
    monkeypatch.setenv("DEBLURCLI_WEIGHTS_DIR", str(tmp_path / "no-weights"))
    data = DATA / "reds"
    report = tmp_path / "eval.json"
    fig = tmp_path / "fig.png"
    r = run(
        "eval",
        "--data",
        data,
        "-m",
        "nafnet,nafnet",
        "--weights",
        tiny_weights,
        "--weights",
        tiny_weights,
        "--json",
        report,
        "--figure",
        fig,
        "--figure-rows",
        "2",
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(report.read_text())
    assert (doc["ensemble"], doc["strength"]) == (4, 1.0)
    r = run("folder", data / "blur", "-o", tmp_path / "out", "--weights", tiny_weights, "--quiet")
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in (data / "blur").glob("*.png"))
    assert [im["name"] for im in doc["images"]] == [f"reds/{n}" for n in names]
    for im, n in zip(doc["images"], names):
        sharp, blur, out = rgb(data / "sharp" / n), rgb(data / "blur" / n), rgb(tmp_path / "out" / n)
        assert im["psnr"]["input"] == pytest.approx(peak_signal_noise_ratio(sharp, blur, data_range=1), abs=1e-9)
        assert im["ssim"]["input"] == pytest.approx(
            structural_similarity(sharp, blur, data_range=1, channel_axis=2), abs=1e-9
        )
        label = "nafnet:nafnet-tiny"  # the same model twice is told apart by its file
        assert im["psnr"][label] == pytest.approx(peak_signal_noise_ratio(sharp, out, data_range=1), abs=1e-9)
        assert im["ssim"][label] == pytest.approx(
            structural_similarity(sharp, out, data_range=1, channel_axis=2), abs=1e-9
        )
    s = {row["label"]: row for row in doc["summary"]}
    # two runs with files of the same name keep a row each (the second is named by its folder too)
    twin = f"nafnet:{tiny_weights.parent.name}/nafnet-tiny"
    assert list(s) == ["input", label, twin] and s[twin]["psnr_mean"] == s[label]["psnr_mean"]
    assert s["input"]["psnr_mean"] == pytest.approx(np.mean([im["psnr"]["input"] for im in doc["images"]]))
    assert s["input"]["seconds_per_mp"] is None and s["nafnet:nafnet-tiny"]["seconds_per_mp"] > 0
    img = cv2.imread(str(fig))
    # 2 rows; 4 columns (input, model, model, sharp) of 320 px
    assert img.shape[1] == 4 * 320 + 3 * 6 and img.shape[0] > 2 * 320 * 180 / 320


def test_eval_errors(tmp_path, tiny_weights, monkeypatch):
    monkeypatch.setenv("DEBLURCLI_WEIGHTS_DIR", str(tmp_path / "no-weights"))
    r = run("eval", "--data", DATA / "reds", "-m", "nafnet,bogus")
    assert r.exit_code == 2 and "unknown model 'bogus'" in one_line_error(r)
    r = run("eval", "--data", DATA / "reds", "-m", "nafnet,uptimus", "--weights", tiny_weights)
    assert r.exit_code == 2 and "one per model" in one_line_error(r)
    r = run("eval", "--data", tmp_path, "--weights", tiny_weights)
    assert r.exit_code == 2 and "no 'blur' folder" in one_line_error(r)


def test_eval_closes_every_engine_it_opens(tmp_path, tiny_weights, monkeypatch):
    """Also when scoring fails part-way (here: no readable pairs)."""
    from engines.torch_engine import TorchEngine

    closed = []
    real_close = TorchEngine.close
    monkeypatch.setattr(TorchEngine, "close", lambda self: (closed.append(self), real_close(self)))
    r = run(
        "eval",
        "--data",
        DATA / "reds",
        "-m",
        "nafnet,nafnet",
        "--weights",
        tiny_weights,
        "--weights",
        tiny_weights,
        "-q",
        "--engine",
        "torch",
    )
    assert r.exit_code == 0, r.output
    assert len(closed) == 2
    empty = tmp_path / "pairs"
    (empty / "blur").mkdir(parents=True)
    (empty / "sharp").mkdir()
    (empty / "blur" / "a.png").write_bytes(b"not a png")
    (empty / "sharp" / "a.png").write_bytes(b"not a png")
    closed.clear()
    r = run("eval", "--data", empty, "--weights", tiny_weights, "-q", "--engine", "torch")
    assert r.exit_code == 2 and "no readable pairs" in r.output
    assert len(closed) == 1


def test_eval_all_scores_every_shipped_model(tmp_path):
    """`eval -m all`: one row per architecture whose weights ship (the study's comparison on your pairs)."""
    from deblurcli.catalog import architecture_names
    from deblurcli.loading import find_weights
    from deblurcli.models import get_spec

    shipped = [n for n in architecture_names() if find_weights(n, get_spec(n).default_variant)]
    assert {"nafnet", "resunet", "uptimus"} <= set(shipped)
    report = tmp_path / "all.json"
    r = run("eval", "--data", DATA / "reds", "-m", "all", "--engine", "torch", "--json", report, "-q")
    assert r.exit_code == 0, r.output
    rows = {row["label"]: row for row in json.loads(report.read_text())["summary"]}
    assert list(rows) == ["input", *shipped]
    assert all(np.isfinite(row["psnr_mean"]) and row["images"] == 2 for row in rows.values())


def test_json_dash_is_standard_output_and_nothing_else(tiny_weights, tmp_path):
    """`--json -` prints the report on standard output, alone (the table and progress go to standard error), and
    writes no file named '-'; the same for folder."""
    r = run("eval", "--data", DATA / "reds", "--weights", tiny_weights, "--engine", "torch", "--json", "-", "-q")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [row["label"] for row in doc["summary"]][0] == "input" and doc["images"]
    assert "PSNR dB" in r.stderr  # the table, moved aside
    r = run("folder", DATA / "reds" / "blur", "-o", tmp_path / "out", "--weights", tiny_weights, "--json", "-")
    assert r.exit_code == 0, r.output
    assert {f["status"] for f in json.loads(r.stdout)["files"]} == {"ok"}
    assert not (tmp_path / "-").exists() and not (ROOT / "-").exists()
