"""trainers/recipes/model_card.py: the README's numbers on shipped models come from the cards ship.py measured."""

import importlib.util

from .conftest import ROOT

_spec = importlib.util.spec_from_file_location("model_card", ROOT / "trainers" / "recipes" / "model_card.py")
model_card = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(model_card)


def kind(input_psnr, psnr, input_ssim=0.6, ssim=0.65):
    return {"pairs": 4, "input_psnr": input_psnr, "psnr": psnr, "input_ssim": input_ssim, "ssim": ssim}


def card(sets, suite):
    gains = {k: round(v["psnr"] - v["input_psnr"], 3) for k, v in suite.items()}
    return {
        "validation_suite": suite,
        "sets": sets,
        "bar": {"targets": {"reds": 1.8, "gopro": 1.5, "shake": 2.0}, "gains": gains},
    }


def test_the_status_sentence_says_which_targets_are_met_and_the_range_on_real_sets():
    suite = {"reds": kind(23.6, 25.0), "gopro": kind(22.6, 24.3), "shake": kind(22.7, 24.8)}
    text = model_card.status(card({"a": kind(20.0, 20.42), "b": kind(30.0, 32.11)}, suite))
    assert "real REDS motion blur 23.60 -> 25.00 dB (+1.40)" in text
    assert "camera shake with measured kernels 22.70 -> 24.80 dB (+2.10)" in text
    assert "SSIM up on each" in text
    assert "every real set in the development data better than its input (+0.42 to +2.11 dB)" in text
    assert text.endswith("met on GoPro-style and camera shake, missed on REDS.")


def test_the_status_sentence_does_not_hide_a_worse_set_or_a_lower_ssim():
    suite = {"reds": kind(23.6, 25.5, ssim=0.55), "gopro": kind(22.6, 24.3), "shake": kind(22.7, 24.8)}
    text = model_card.status(card({"a": kind(20.0, 19.9), "b": kind(30.0, 31.0)}, suite))
    assert "SSIM not up on each" in text
    assert "1 of 2 real sets in the development data not better than their input (worst -0.10 dB)" in text
    assert text.endswith("all met.")


def test_the_readme_status_block_is_the_default_cards():
    """The default model's numbers in the README's status paragraph are exactly the sentence its card renders."""
    want = model_card.expected()
    have = model_card.blocks(model_card.README.read_text(), "status")
    assert set(have) == {model_card.DEFAULT}
    assert have[model_card.DEFAULT].group(2) == want["status", model_card.DEFAULT]
