"""``deblurcli models``: what is installed, with size, cost and tiling."""

from __future__ import annotations

import json

import click


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def models(as_json: bool) -> None:
    """List the architectures and variants: size, cost, tiling, weights."""
    import torch

    from .. import console
    from ..loading import find_weights
    from ..models import create_model, get_spec, model_names
    from ..models.stats import count_parameters, gmacs_per_megapixel

    rows = []
    for name in model_names():
        spec = get_spec(name)
        for vname, cfg in spec.variants.items():
            with torch.device("meta"):
                m = create_model(name, config=cfg)
            w = find_weights(name, vname)
            rows.append(
                {
                    "name": name,
                    "variant": vname,
                    "default": vname == spec.default_variant,
                    "parameters": count_parameters(m),
                    "gmacs_per_mp": round(gmacs_per_megapixel(m), 2),
                    "pad_multiple": cfg.pad_multiple,
                    "tile": cfg.tile,
                    "overlap": cfg.overlap,
                    "weights": str(w) if w else None,
                }
            )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    console.out.print(
        console.table(
            "deblurcli models (* = default variant)",
            ["name", "variant", "parameters", "GMACs/MP", "pad", "tile", "weights"],
            [
                [
                    r["name"],
                    r["variant"] + (" *" if r["default"] else ""),
                    f"{r['parameters']:,}",
                    f"{r['gmacs_per_mp']:.2f}",
                    r["pad_multiple"],
                    f"{r['tile']}/{r['overlap']}",
                    "yes" if r["weights"] else "no",
                ]
                for r in rows
            ],
        )
    )
    missing = [r["name"] for r in rows if r["default"] and not r["weights"]]
    if missing:
        console.out.print(
            f"No weights ship for {', '.join(missing)} (too large for the package): train them with "
            "'bash trainers/recipes/study.sh' (README, \"The study\"), or pass --weights FILE."
        )
