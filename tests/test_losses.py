"""trainers.losses: each loss measures what its name says, on real pixels."""

import cv2
import pytest
import torch

from trainers.losses import CombinedLoss, LossError, charbonnier, fft_complex_loss, fft_loss, l1, psnr_loss, ssim

from .conftest import DATA


def pair():
    read = lambda k: cv2.imread(str(DATA / "gopro" / k / "000047_1.png"))[:, :, ::-1].copy()  # noqa: E731
    to = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].double() / 255  # noqa: E731
    return read("blur"), read("sharp"), to(read("blur")), to(read("sharp"))


def test_ssim_matches_scikit_image():
    from skimage.metrics import structural_similarity

    b, s, tb, ts = pair()
    ref = structural_similarity(
        s / 255.0,
        b / 255.0,
        data_range=1.0,
        channel_axis=2,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
    )
    assert float(ssim(tb, ts)) == pytest.approx(ref, abs=2e-3)
    assert float(ssim(ts, ts)) == pytest.approx(1.0, abs=1e-9)


def test_psnr_loss_is_minus_psnr():
    from skimage.metrics import peak_signal_noise_ratio

    b, s, tb, ts = pair()
    assert -float(psnr_loss(tb, ts)) == pytest.approx(
        peak_signal_noise_ratio(s / 255.0, b / 255.0, data_range=1), abs=1e-4
    )


def test_pixel_losses():
    _, _, tb, ts = pair()
    assert float(l1(tb, ts)) == pytest.approx(float((tb - ts).abs().mean()))
    assert float(charbonnier(ts, ts)) == pytest.approx(1e-3)  # eps where the images agree
    assert abs(float(charbonnier(tb, ts)) - float(l1(tb, ts))) < 2e-3
    assert float(fft_loss(ts, ts)) == 0.0 and float(fft_loss(tb, ts)) > 0


def test_complex_frequency_loss_sees_a_shift_the_amplitude_loss_does_not():
    _, _, _, ts = pair()
    x = ts.float()
    moved = torch.roll(x, shifts=(3, 5), dims=(2, 3))  # same spectrum amplitudes, other phases
    assert float(fft_loss(moved, x)) == pytest.approx(0.0, abs=1e-5)
    assert float(fft_complex_loss(x, x)) == 0.0 and float(fft_complex_loss(moved, x)) > 0.01
    y = x.clone().requires_grad_(True)
    CombinedLoss("psnr+60*fftc")(y, moved).backward()
    assert y.grad is not None and torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0


def test_combined_grammar_and_gradients():
    _, _, tb, ts = pair()
    loss = CombinedLoss("mae + ssim")
    assert loss.terms == [(1.0, "mae"), (1.0, "ssim")]
    x = tb.float().clone().requires_grad_(True)
    value = loss(x, ts.float())
    value.backward()
    assert value.item() == pytest.approx(float(l1(tb, ts)) + 1 - float(ssim(tb, ts)), abs=1e-4)
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert CombinedLoss("charbonnier+0.05*fft").terms == [(1.0, "charbonnier"), (0.05, "fft")]
    with pytest.raises(LossError, match="unknown loss term 'perceptual'"):
        CombinedLoss("l1+perceptual")


def test_vgg_loss_needs_local_weights(tmp_path, monkeypatch):
    monkeypatch.delenv("DEBLURCLI_VGG19_WEIGHTS", raising=False)
    with pytest.raises(LossError, match="local file"):
        CombinedLoss("l1+0.1*vgg")
    with pytest.raises(LossError, match="do not exist"):
        CombinedLoss("vgg", tmp_path / "none.pth")
    bad = tmp_path / "bad.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, bad)
    with pytest.raises(LossError, match="not torchvision VGG19"):
        CombinedLoss("vgg", bad)
    from torchvision.models import vgg19

    torch.manual_seed(0)
    good = tmp_path / "vgg19.pth"
    torch.save({k: v for k, v in vgg19(weights=None).state_dict().items() if k.startswith("features.")}, good)
    loss = CombinedLoss("vgg", good)
    _, _, tb, ts = pair()
    assert float(loss(ts.float(), ts.float())) == 0.0
    assert float(loss(tb.float(), ts.float())) > 0
