"""``deblurcli convert``: a torch checkpoint (the study's ``Uptimus.pth``) to self-describing safetensors."""

from __future__ import annotations

from pathlib import Path

import click

from ..catalog import architecture_names
from .common import fail, handle_errors


@click.command()
@click.argument("src", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("dst", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-m",
    "--model",
    type=click.Choice(architecture_names()),
    help="Architecture of SRC (default: recognised from its parameter names and shapes).",
)
@click.option("--variant", help="Variant of SRC (default: recognised).")
@click.option("--half", is_flag=True, help="Store fp16 weights (half the size).")
@click.option("--force", is_flag=True, allow_from_autoenv=False, help="Replace DST if it exists.")
@handle_errors
def convert(src: Path, dst: Path, model: str | None, variant: str | None, half: bool, force: bool) -> None:
    """Convert a torch checkpoint (e.g. the study's Uptimus.pth) to .safetensors.

    SRC is read with torch.load(weights_only=True), never unrestricted pickle,
    and loaded strictly into the model it fits; DST gets the project's
    metadata (arch, variant, config, source epoch/PSNR/SSIM when present).
    """
    from ..checkpoints import build_model, read_checkpoint, save_checkpoint

    if dst.suffix != ".safetensors":
        raise fail(f"DST must end in .safetensors, got {dst.name}")
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise fail("DST is SRC; choose another name")
    if dst.exists() and not force:
        raise fail(f"{dst} exists; pass --force to replace it")
    ckpt = read_checkpoint(src)
    m, name, vname, cfg = build_model(ckpt, model, variant)
    meta = {
        k: v
        for k, v in ckpt.metadata.items()
        if k not in ("format", "format_version", "arch", "variant", "config", "dtype")
    }
    meta.setdefault("source", src.name)
    save_checkpoint(dst, m.state_dict(), name, cfg, half=half, **meta)
    click.echo(
        f"{dst}: {name} ({vname}), {sum(p.numel() for p in m.parameters()):,} parameters" + (", fp16" if half else "")
    )
