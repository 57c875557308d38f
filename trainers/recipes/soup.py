"""Average the weights of fine-tunes that share a starting point: a "model soup" (Wortsman et al. 2022).

    python trainers/recipes/soup.py A.safetensors B.safetensors [--weight 0.5 --weight 0.5] -o OUT.safetensors

Fine-tunes of one set of weights stay in the same basin of the loss, so their weighted average is a model of the
same architecture and cost that often keeps what each learnt: here the CPU-trained default (good on REDS and
GoPro-style blur) and its GPU fine-tune on the camera-shake-heavy pack (better on shake, worse on the others).
Every input must be the same architecture and configuration (checked from the files' metadata, and the tensor
names and shapes); weights default to equal and are normalised to sum to 1. Float tensors are averaged in fp32;
integer buffers are taken from the first file. OUT is a deblurcli checkpoint (fp32) whose metadata names the
ingredients and their weights, with the first file's other metadata (training data, steps, seed) kept.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from deblurcli.checkpoints import build_model, read_checkpoint, save_checkpoint
from deblurcli.errors import CheckpointError

DROP = ("format", "format_version", "arch", "variant", "config", "dtype", "train_state")


def soup(paths: list[Path], weights: list[float] | None = None) -> tuple[dict[str, torch.Tensor], str, object, dict]:
    """The weighted average of ``paths``' tensors, their architecture, config and the first file's metadata."""
    if len(paths) < 2:
        raise CheckpointError("a soup needs at least two checkpoints")
    weights = weights or [1.0] * len(paths)
    if len(weights) != len(paths) or min(weights) < 0 or sum(weights) <= 0:
        raise CheckpointError(f"{len(paths)} checkpoints need {len(paths)} non-negative --weight values")
    total = sum(weights)
    ckpts = [read_checkpoint(p) for p in paths]
    kinds = [build_model(c)[1::2] for c in ckpts]  # (arch, config), each file loaded strictly into its model
    arch, config = kinds[0]
    out: dict[str, torch.Tensor] = {}
    for p, c, w, (a, cfg) in zip(paths, ckpts, weights, kinds):
        if (a, cfg) != (arch, config):
            raise CheckpointError(f"{p.name} is {a} with another configuration than {paths[0].name}: no soup")
        for k, v in c.state_dict.items():
            if k.startswith("_train/"):
                continue
            if not v.is_floating_point():
                out.setdefault(k, v.clone())
                continue
            out[k] = out.get(k, torch.zeros(v.shape, dtype=torch.float32)) + v.float() * (w / total)
    meta = {k: v for k, v in ckpts[0].metadata.items() if k not in DROP}
    meta["soup"] = json.dumps([{"file": str(p), "weight": round(w / total, 6)} for p, w in zip(paths, weights)])
    return out, arch, config, meta


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", type=Path, nargs="+")
    ap.add_argument("--weight", type=float, action="append", help="one per checkpoint, in order (default equal)")
    ap.add_argument("-o", "--out", type=Path, required=True)
    a = ap.parse_args(argv)
    try:
        state, arch, config, meta = soup(a.checkpoints, a.weight)
    except CheckpointError as e:
        print(f"soup: {e}", file=sys.stderr)
        return 2
    a.out.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(a.out, state, arch, config, **meta)
    print(f"{a.out}: {arch}, {meta['soup']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
