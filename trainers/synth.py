"""Synthetic training pairs from sharp images or sharp high-frame-rate video.

Two ways to make blur, both in linear light (the sRGB curve is undone before
blurring and re-applied after, as a sensor integrates light, not pixel codes):

* camera shake: a random motion trajectory (Boracchi and Foi 2012, "Modeling
  the performance of image restoration from motion blur", IEEE TIP: a random
  walk with inertia, a pull back to the start and occasional abrupt shakes)
  rasterised into a 7-65 px kernel, or a real measured kernel (Levin et al.
  2009), convolved with the sharp image; then sensor noise (signal-dependent
  Gaussian) and optionally a JPEG round trip.
* temporal averaging: the mean of N consecutive frames of a sharp video, with
  the middle frame as the target. This is how GoPro (Nah et al. 2017) and
  REDS (Nah et al. 2019) were made.

Output is the GoPro layout (``OUT/<group>/blur``, ``OUT/<group>/sharp``) and
``OUT/pairs.json`` recording each pair's kernel file or frame window and the
seed, so a run can be reproduced and checked.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deblurcli.errors import DeblurError
from deblurcli.images import IMAGE_EXTS, read_image, write_atomic
from deblurcli.metrics import psnr

from .camera import (  # noqa: F401  (re-exported: the colour helpers live in camera.py)
    Camera,
    convolve,
    decode,
    degrade,
    jpeg_roundtrip,
    linear_to_srgb,
    srgb_to_linear,
    to_uint8,
)


class SynthError(DeblurError):
    """Sharp input that cannot be turned into pairs."""


# --- camera-shake kernels ---------------------------------------------------------------------


def random_trajectory(rng: np.random.Generator, length: float, steps: int = 2000) -> np.ndarray:
    """A camera path (complex positions, pixels) in the manner of Boracchi and Foi 2012.

    The velocity keeps its direction (inertia), is nudged by Gaussian noise and
    a centripetal pull towards the start, and now and then turns abruptly
    (a shake). ``length`` is the path length in pixels.
    """
    anxiety = 0.1 * rng.random()
    centripetal = 0.7 * rng.random()
    gaussian_term = 10.0 * rng.random()
    big_shakes = 0.2 * rng.random()
    step_len = length / (steps - 1)
    v = np.exp(1j * 2 * np.pi * rng.random()) * (anxiety if anxiety > 0 else step_len)
    x = np.zeros(steps, dtype=np.complex128)
    for t in range(steps - 1):
        shake = 0.0
        if rng.random() < big_shakes * anxiety:
            shake = 2 * v * np.exp(1j * (np.pi + (rng.random() - 0.5)))
        noise = gaussian_term * complex(rng.standard_normal(), rng.standard_normal())
        v = v + shake + anxiety * (noise - centripetal * x[t]) * step_len
        v = v / (abs(v) + 1e-12) * step_len
        x[t + 1] = x[t] + v
    return x


def rasterise(traj: np.ndarray, size: int, exposure: float = 1.0) -> np.ndarray:
    """Splat the first ``exposure`` fraction of a path bilinearly into a size x size kernel, centred by mass."""
    pts = traj[: max(2, int(len(traj) * exposure))]
    pts = pts - pts.mean()
    c = (size - 1) / 2
    xs, ys = pts.real + c, pts.imag + c
    k = np.zeros((size, size), dtype=np.float64)
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = xs - x0, ys - y0
    for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xi, yi = x0 + dx, y0 + dy
        ok = (xi >= 0) & (xi < size) & (yi >= 0) & (yi < size)
        np.add.at(k, (yi[ok], xi[ok]), w[ok])
    return k / k.sum()


TRAJECTORIES = ("smooth", "fine")


def random_kernel(
    rng: np.random.Generator, min_size: int = 7, max_size: int = 65, trajectory: str = "smooth"
) -> np.ndarray:
    """A camera-shake kernel of odd size in [min_size, max_size]."""
    return random_path_kernel(rng, min_size, max_size, trajectory)[0]


def smooth_trajectory(rng: np.random.Generator, size: int, steps: int = 64) -> np.ndarray:
    """A camera path whose blur fills 35-90% of a ``size`` kernel: the walk of :func:`random_trajectory` at
    ``steps`` samples (its turns then span the path, as in measured kernels), drawn densely by linear
    interpolation and scaled to the drawn extent."""
    coarse = random_trajectory(rng, 1.0, steps=steps)
    t = np.linspace(0, steps - 1, 2000)
    path = np.interp(t, np.arange(steps), coarse.real) + 1j * np.interp(t, np.arange(steps), coarse.imag)
    extent = max(np.ptp(path.real), np.ptp(path.imag), 1e-6)
    return path * (rng.uniform(0.35, 0.9) * (size - 3) / extent)


def random_path_kernel(
    rng: np.random.Generator, min_size: int, max_size: int, trajectory: str = "smooth"
) -> tuple[np.ndarray, np.ndarray]:
    """(kernel, the part of the camera path it was drawn from, complex pixels).

    ``trajectory="smooth"``: :func:`smooth_trajectory`, blur of the kernel's scale (median extent 10 px for
    sizes 7-35, like measured camera shake). ``"fine"``: the walk at 2000 samples whose *path length* is
    35-90% of the size; it curls up, so most such kernels blur at most 5 px (``benchmarks/kernel_stats.py``).
    Kept to rebuild the data the shipped weights were trained on.
    """
    if trajectory not in TRAJECTORIES:
        raise SynthError(f"unknown trajectory {trajectory!r} (use {' or '.join(TRAJECTORIES)})")
    size = int(rng.integers(min_size // 2, max_size // 2 + 1)) * 2 + 1
    if trajectory == "smooth":
        traj = smooth_trajectory(rng, size)
    else:
        length = rng.uniform(0.35, 0.9) * size
        traj = random_trajectory(rng, length)
        extent = max(np.ptp(traj.real), np.ptp(traj.imag), 1e-6)
        if extent > size - 3:  # keep the whole path inside the kernel
            traj = traj * ((size - 3) / extent)
    exposure = rng.uniform(0.5, 1.0)
    return rasterise(traj, size, exposure=exposure), traj[: max(2, int(len(traj) * exposure))]


def centre_kernel(kernel: np.ndarray) -> np.ndarray:
    """``kernel`` (normalised) moved so its centre of mass is the array's centre: an odd, square array.

    A measured kernel is stored wherever its camera path happened to lie (Levin et al.'s k6 is off by 3.3 and 2.9
    px), so the image it blurs is also *shifted* against its sharp original: a shift no model can know from the
    blurry image alone, which caps the PSNR of any deblurred result and teaches a model nothing. Random paths are
    centred by mass already (:func:`rasterise`); this does the same for real kernels: a whole-pixel move and a
    bilinear split for the fraction of a pixel, so the centre of mass lands exactly on the centre pixel.
    """
    k = np.asarray(kernel, dtype=np.float64)
    k = k / k.sum()
    h, w = k.shape
    cy = float((k.sum(axis=1) * np.arange(h)).sum()) - (h - 1) / 2
    cx = float((k.sum(axis=0) * np.arange(w)).sum()) - (w - 1) / 2
    if abs(cy) < 1e-9 and abs(cx) < 1e-9 and h == w and h % 2:
        return k
    pad = int(np.ceil(max(abs(cy), abs(cx)))) + 1
    size = max(h, w) + 2 * pad
    size += 1 - size % 2
    out = np.zeros((size, size))
    oy, ox = (size - h) / 2 - cy, (size - w) / 2 - cx  # where k's top-left corner goes (fractional)
    iy, ix = int(np.floor(oy)), int(np.floor(ox))
    fy, fx = oy - iy, ox - ix
    for dy, dx, wt in ((0, 0, (1 - fy) * (1 - fx)), (1, 0, fy * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 1, fy * fx)):
        out[iy + dy : iy + dy + h, ix + dx : ix + dx + w] += wt * k
    while size > 1 and not (out[0].any() or out[-1].any() or out[:, 0].any() or out[:, -1].any()):
        out, size = out[1:-1, 1:-1], size - 2  # drop empty rings: the same kernel, cheaper to convolve
    return out / out.sum()


def load_kernels(folder: str | Path) -> list[tuple[str, np.ndarray]]:
    """Real kernels saved as .npy (2-D, non-negative); normalised to sum 1."""
    out = []
    for p in sorted(Path(folder).glob("*.npy")):
        k = np.load(p).astype(np.float64)
        if k.ndim != 2 or k.min() < 0 or k.sum() <= 0:
            raise SynthError(f"{p}: not a blur kernel (need a 2-D non-negative array)")
        out.append((p.stem, k / k.sum()))
    if not out:
        raise SynthError(f"no .npy kernels in {folder}")
    return out


def blur_with_kernel(sharp: np.ndarray, kernel: np.ndarray, gamma: float | None = None) -> np.ndarray:
    """Convolve a uint8 RGB image with ``kernel`` in linear light (borders reflected); linear light out."""
    return convolve(decode(sharp, gamma), kernel)


# --- temporal averaging ---------------------------------------------------------------------------


@dataclass
class Writer:
    """Writes pairs in the GoPro layout and collects the sidecar records."""

    out: Path
    seed: int
    mode: str
    records: list

    def add(self, group: str, name: str, blur: np.ndarray, sharp: np.ndarray, **info) -> None:
        from deblurcli.images import write_image

        for kind, img in (("blur", blur), ("sharp", sharp)):
            d = self.out / group / kind
            d.mkdir(parents=True, exist_ok=True)
            write_image(d / f"{name}.png", img)
        self.records.append({"group": group, "name": f"{name}.png", **info})

    def finish(self, **extra) -> Path:
        side = self.out / "pairs.json"
        doc = {"mode": self.mode, "seed": self.seed, **extra, "pairs": self.records}
        write_atomic(side, (json.dumps(doc, indent=1) + "\n").encode())
        return side


def sharp_images(root: Path, include: str | None = None, exclude: str | None = None) -> list[Path]:
    """Images under ``root``, whose names match the glob ``include`` and not ``exclude``."""
    files = sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in IMAGE_EXTS
        and p.is_file()
        and (include is None or fnmatch.fnmatch(p.name, include))
        and (exclude is None or not fnmatch.fnmatch(p.name, exclude))
    )
    if not files:
        raise SynthError(
            f"no images under {root}"
            + (f" matching {include!r}" if include else "")
            + (f" and not {exclude!r}" if exclude else "")
        )
    return files


@dataclass(frozen=True)
class ShakeOptions:
    """What ``synth_shake`` draws from: kernels, sizes, crops and the camera model."""

    per_image: int = 2
    kernels: list[tuple[str, np.ndarray]] | None = None
    real_fraction: float = 0.3
    size: tuple[int, int] = (7, 65)
    trajectory: str = "smooth"
    centre_real: bool = True
    crop: int | None = None
    camera: Camera = Camera()
    include: str | None = None
    exclude: str | None = None
    limit: int | None = None


def _load_sharp(path: Path) -> np.ndarray:
    img = read_image(path)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    img = img[:, :, :3]
    return to_uint8(img / 65535.0) if img.dtype == np.uint16 else img


def _draw_kernel(rng: np.random.Generator, o: ShakeOptions) -> tuple[np.ndarray, np.ndarray | None, str]:
    if o.kernels and rng.random() < o.real_fraction:
        kname, k = o.kernels[int(rng.integers(len(o.kernels)))]
        k = np.rot90(k, int(rng.integers(4)))
        return (centre_kernel(k) if o.centre_real else k), None, f"real:{kname}"
    k, traj = random_path_kernel(rng, *o.size, o.trajectory)
    return k, traj, "trajectory"


def synth_shake(root: Path, writer: Writer, rng: np.random.Generator, o: ShakeOptions) -> int:
    """Camera-shake pairs: random or real kernels through the camera model (see :mod:`trainers.camera`)."""
    made = 0
    kdir = writer.out / "kernels"
    kdir.mkdir(parents=True, exist_ok=True)
    for path in sharp_images(root, o.include, o.exclude):
        img = _load_sharp(path)
        rel = path.parent.relative_to(root)
        group = "_".join(rel.parts) if rel.parts else root.name
        for j in range(o.per_image):
            sharp = img
            if o.crop and min(img.shape[:2]) > o.crop:
                y = int(rng.integers(0, img.shape[0] - o.crop + 1))
                x = int(rng.integers(0, img.shape[1] - o.crop + 1))
                sharp = img[y : y + o.crop, x : x + o.crop]
            sharp = np.ascontiguousarray(sharp)
            k, traj, source = _draw_kernel(rng, o)
            blur, info = degrade(sharp, k, traj, o.camera, rng)
            name = f"{path.stem}_{j:02d}"
            kfile = kdir / f"{group}_{name}.npy"
            np.save(kfile, k.astype(np.float32))
            writer.add(
                group,
                name,
                blur,
                sharp,
                source=str(path),
                kernel=str(kfile.relative_to(writer.out)),
                kernel_source=source,
                kernel_size=int(k.shape[0]),
                **info,
            )
            made += 1
            if o.limit and made >= o.limit:
                return made
    return made


def psnr_u8(a: np.ndarray, b: np.ndarray) -> float:
    return psnr(a, b, 255.0)
