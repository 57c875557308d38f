"""``deblurcli synth``: make blurry/sharp training pairs (the work is in :mod:`trainers.synth`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .common import fail, handle_errors


@click.command()
@click.argument("sharp", type=click.Path(exists=True, path_type=Path))
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--from-video",
    "video",
    is_flag=True,
    help="SHARP is a high-frame-rate video (or a folder of its frames): average --window frames.",
)
@click.option(
    "--window",
    default="7",
    show_default=True,
    help="Frames per blurry image: N or a range LO-HI drawn per pair (e.g. 7-13).",
)
@click.option("--stride", type=click.IntRange(min=1), help="Frames between window starts (default: the window).")
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True, help="First frame used.")
@click.option("--limit", type=click.IntRange(min=1), help="Stop after N pairs.")
@click.option(
    "--per-image",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Camera shake: blurry versions per sharp image.",
)
@click.option(
    "--kernels",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of real kernels (.npy) mixed with random trajectories.",
)
@click.option(
    "--real-fraction",
    type=click.FloatRange(0, 1),
    default=0.3,
    show_default=True,
    help="Share of pairs blurred with a real kernel (with --kernels).",
)
@click.option(
    "--kernel-offset",
    type=click.Choice(["centre", "keep"]),
    default="centre",
    show_default=True,
    help="Real kernels: centre each by its centre of mass, so the blurry image is not shifted against the sharp "
    "one (a shift no model can see), or keep them as measured (rebuilds the shipped weights' training data).",
)
@click.option("--kernel-size", default="7-65", show_default=True, help="Trajectory kernel sizes, LO-HI pixels.")
@click.option(
    "--trajectory",
    type=click.Choice(["smooth", "fine"]),
    default="smooth",
    show_default=True,
    help="Random camera paths: smooth (blur of the kernel's scale, like measured shake) or fine (the walk that "
    "curls into mostly <= 5 px blur; rebuilds the shipped weights' data).",
)
@click.option(
    "--noise",
    type=click.FloatRange(min=0),
    default=0.01,
    show_default=True,
    help="Largest read-noise sigma (linear light, 0-1); shot noise scales with it. 0 = none.",
)
@click.option("--jpeg", help="JPEG quality range for the blurry images, e.g. 70-95 (default: no JPEG).")
@click.option(
    "--jpeg-prob",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="Share of blurry images that get the JPEG round trip (with --jpeg).",
)
@click.option("--crop", type=click.IntRange(min=16), help="Camera shake: random crops of this size.")
@click.option(
    "--highlights",
    type=click.FloatRange(0, 1),
    default=0.4,
    show_default=True,
    help="Camera shake: share of pairs whose highlights saturate (radiance scaled above white, "
    "clipped after blurring).",
)
@click.option(
    "--rotation",
    type=click.FloatRange(0, 1),
    default=0.3,
    show_default=True,
    help="Camera shake: share of trajectory pairs with an in-plane rotation (spatially varying blur).",
)
@click.option("--plain", is_flag=True, help="Camera shake: sRGB curve only, no highlights, no rotation.")
@click.option("--include", help="Camera shake: only images whose names match this glob (e.g. 'test_*').")
@click.option("--exclude", help="Camera shake: leave out images whose names match this glob.")
@click.option(
    "--average",
    type=click.Choice(["linear", "srgb", "both"]),
    default="linear",
    show_default=True,
    help="With --from-video: average in linear light (GoPro's blur_gamma), the sRGB codes (GoPro's "
    "blur), or both (two pairs per window).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Makes the run reproducible.")
@click.option("--force", is_flag=True, allow_from_autoenv=False, help="Write into an OUT that already has pairs.json.")
@handle_errors
def synth(sharp: Path, out: Path, video: bool, seed: int, force: bool, **o: Any) -> None:
    """Make blurry/sharp training pairs from SHARP images or video into OUT.

    Camera shake (default): each image under SHARP is blurred with random
    camera-motion kernels (Boracchi and Foi 2012) and/or real kernels through
    a camera model (RSBlur, Rim et al. 2022): linear light with a tone curve
    drawn per pair, saturated highlights, some rotating (spatially varying)
    paths, Poisson-Gaussian noise, optional JPEG. With --from-video, windows of
    consecutive frames are averaged and the middle frame is the target, as
    GoPro and REDS were made. OUT gets the GoPro layout and pairs.json (each
    pair's kernel or frame window, what the camera model drew, and the seed).
    """
    import numpy as np

    from trainers.synth import SynthError

    if (out / "pairs.json").exists() and not force:
        raise fail(f"{out} already holds synthetic pairs; pass --force or choose another OUT")
    if not video and sharp.is_file():
        raise fail(f"{sharp} is a file: camera shake takes a folder of sharp images (for a video add --from-video)")
    rng = np.random.default_rng(seed)
    try:
        n = (_from_video if video else _shake)(sharp, out, seed, rng, o)
    except SynthError as e:
        raise fail(str(e)) from None
    click.echo(f"{n} pairs -> {out} (pairs.json records how each was made)", err=True)


def _from_video(sharp: Path, out: Path, seed: int, rng: Any, o: dict[str, Any]) -> int:
    from trainers.synth import Writer
    from trainers.synth_video import folder_frames, parse_window, synth_from_frames, video_frames

    lo_hi = parse_window(o["window"])
    writer = Writer(out, seed, "video", [])
    frames = folder_frames(sharp) if sharp.is_dir() else video_frames(sharp)
    out.mkdir(parents=True, exist_ok=True)
    n = synth_from_frames(frames, writer, sharp.stem, lo_hi, o["stride"], o["offset"], o["limit"], rng, o["average"])
    writer.finish(source=str(sharp), window=list(lo_hi), stride=o["stride"], offset=o["offset"], average=o["average"])
    return n


def _shake(sharp: Path, out: Path, seed: int, rng: Any, o: dict[str, Any]) -> int:
    from trainers.camera import Camera
    from trainers.synth import ShakeOptions, Writer, load_kernels, synth_shake
    from trainers.synth_video import parse_window

    plain = o["plain"]
    cam = Camera(
        noise=o["noise"],
        jpeg=parse_window(o["jpeg"]) if o["jpeg"] else None,
        jpeg_prob=o["jpeg_prob"],
        saturate_prob=0.0 if plain else o["highlights"],
        rotation_prob=0.0 if plain else o["rotation"],
        srgb_prob=1.0 if plain else 0.5,
    )
    kernels = o["kernels"]
    shake = ShakeOptions(
        per_image=o["per_image"],
        kernels=load_kernels(kernels) if kernels else None,
        real_fraction=o["real_fraction"],
        size=parse_window(o["kernel_size"]),
        trajectory=o["trajectory"],
        centre_real=o["kernel_offset"] == "centre",
        crop=o["crop"],
        camera=cam,
        include=o["include"],
        exclude=o["exclude"],
        limit=o["limit"],
    )
    writer = Writer(out, seed, "shake", [])
    out.mkdir(parents=True, exist_ok=True)
    n = synth_shake(sharp, writer, rng, shake)
    writer.finish(
        source=str(sharp),
        noise=o["noise"],
        jpeg=o["jpeg"],
        kernels=str(kernels) if kernels else None,
        trajectory=o["trajectory"],
        kernel_offset=o["kernel_offset"] if kernels else None,
        camera=dict(vars(cam)),
        include=o["include"],
        exclude=o["exclude"],
        crop=o["crop"],
    )
    return n
