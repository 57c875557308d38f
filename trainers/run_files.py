"""A run's files: resuming from ``last.safetensors``, writing it and ``best.safetensors`` with their
metadata, and ``history.csv`` / ``curves.png``. Mixed into :class:`trainers.train.Trainer`."""

from __future__ import annotations

import csv
import json
import logging
import math
from pathlib import Path
from typing import Any

import torch

from deblurcli.checkpoints import save_checkpoint
from deblurcli.errors import CheckpointError
from deblurcli.models import config_to_json

from .state import EMA, TRAIN_PREFIX, _restore_optimizer, _training_state, read_training_checkpoint

log = logging.getLogger("deblurcli.train")


class RunFiles:
    """Checkpoint and history I/O over the Trainer's attributes (opts, model, opt, ema, step, history...)."""

    opts: Any
    config: Any
    model: torch.nn.Module
    opt: torch.optim.Optimizer
    ema: EMA | None
    device: torch.device
    dist: Any
    step: int
    best_psnr: float
    best_gain: float
    history: list[dict[str, Any]]
    val_sets: list[Any]
    val_pairs: list[Any]
    val_kernels_seen: dict[str, int]
    backbone_source: str | None

    def _resume(self) -> None:
        path = self.opts.out / "last.safetensors"
        if not path.is_file():
            raise CheckpointError(f"nothing to resume: {path} does not exist (drop --resume to start a new run)")
        weights, extra, meta = read_training_checkpoint(path)
        state = json.loads(meta["train_state"])
        if meta.get("arch") != self.opts.arch or meta.get("config") != config_to_json(self.config):
            raise CheckpointError(
                f"{path} is a run of {meta.get('arch')} ({meta.get('variant')}), not "
                f"{self.opts.arch} ({self.opts.variant}); use another --out"
            )
        accum = int(state.get("options", {}).get("accum", 1))
        if accum != self.opts.accum:
            raise CheckpointError(
                f"{path} was trained with --accum {accum}; resume it with --accum {accum} (not {self.opts.accum})"
            )
        raw = {k[len(TRAIN_PREFIX) + 4 :]: v for k, v in extra.items() if k.startswith(f"{TRAIN_PREFIX}raw/")}
        self.model.load_state_dict(raw or weights)
        self.model.to(self.device)
        _restore_optimizer(
            self.opt,
            {k: v.to(self.device) if k.endswith(("exp_avg", "exp_avg_sq")) else v for k, v in extra.items()},
            state["param_groups"],
        )
        if self.ema is not None:
            self.ema.state = (
                {k: v.to(self.device).clone() for k, v in weights.items()}
                if raw
                else EMA(self.model, self.ema.decay).state
            )
            self.ema.updates = int(state.get("ema_updates", state["step"]))
        if f"{TRAIN_PREFIX}rng/torch" in extra:
            torch.set_rng_state(extra[f"{TRAIN_PREFIX}rng/torch"])
        self.step = int(state["step"])
        best = state.get("best_psnr")  # None until the first validation (JSON has no -inf)
        self.best_psnr = -math.inf if best is None else float(best)
        gain = state.get("best_gain")
        self.best_gain = -math.inf if gain is None else float(gain)
        for s in self.val_sets:  # measured again by the first validation: a set rebuilt between legs shows
            s.resumed_input = state.get("val_inputs", {}).get(s.name, (None, None))[0]
        self.history = self._read_history()
        self.history = [h for h in self.history if h["step"] <= self.step]
        if self.dist.main:
            log.info("resuming %s at step %d of %d", path, self.step, self.opts.steps)

    def _read_history(self) -> list[dict[str, Any]]:
        p = self.opts.out / "history.csv"
        if not p.is_file():
            return []
        with open(p, newline="") as f:
            rows = []
            for r in csv.DictReader(f):
                rows.append({k: (float(v) if v not in ("", None) else None) for k, v in r.items()})
                rows[-1]["step"] = int(rows[-1]["step"] or 0)
        return rows

    # -- checkpoints ------------------------------------------------------------------------------
    def inference_state(self) -> dict[str, torch.Tensor]:
        return self.ema.state if self.ema is not None else self.model.state_dict()

    def _meta(self) -> dict[str, Any]:
        o = self.opts
        last_val = next((h for h in reversed(self.history) if h.get("val_psnr") is not None), None)
        return {
            "training_data": ", ".join(str(d) for d in o.data),
            "validation_data": ", ".join(str(d) for d in o.val)
            if o.val
            else ", ".join(sorted({p.group for p in self.val_pairs})) or "none",
            "steps": str(self.step),
            "init": str(o.init) if o.init else None,
            "loss": o.loss,
            "seed": str(o.seed),
            "patch": str(o.patch),
            "batch": str((o.batch or 0) * self.dist.world),
            "accum": str(o.accum) if o.accum > 1 else None,
            "backbone": self.backbone_source,
            "val_psnr": f"{last_val['val_psnr']:.4f}" if last_val else None,
            "val_ssim": f"{last_val['val_ssim']:.4f}" if last_val else None,
            "val_gain": f"{last_val['val_gain']:.4f}" if last_val and last_val.get("val_gain") is not None else None,
            "val_kernels_seen": json.dumps(self.val_kernels_seen) if self.val_kernels_seen else None,
            "val_sets": json.dumps(
                {k[4:]: round(v, 4) for k, v in last_val.items() if k.startswith("val/") and v is not None}
            )
            if last_val
            else None,
        }

    def save_last(self) -> Path:
        raw = self.model.state_dict() if self.ema is not None else None
        tensors, groups = _training_state(self.opt, raw)
        state = {
            "step": self.step,
            "best_psnr": self.best_psnr if math.isfinite(self.best_psnr) else None,
            "best_gain": self.best_gain if math.isfinite(self.best_gain) else None,
            # a leg that ends before it validates passes on the input scores it resumed with
            "val_inputs": {
                s.name: (s.input_psnr, s.input_ssim) if s.input_psnr is not None else (s.resumed_input, None)
                for s in self.val_sets
                if s.input_psnr is not None or s.resumed_input is not None
            },
            "param_groups": groups,
            "options": self.opts.to_json(),
            "world": self.dist.world,
            "ema_updates": self.ema.updates if self.ema is not None else 0,
        }
        sd = {**self.inference_state(), **tensors}
        path = save_checkpoint(
            self.opts.out / "last.safetensors",
            sd,
            self.opts.arch,
            self.config,
            train_state=json.dumps(state),
            **self._meta(),
        )
        self._write_history()
        return path

    def save_best(self) -> Path:
        return self._save_weights("best.safetensors")

    def save_snapshot(self) -> Path:
        """OUT/stepN.safetensors (--keep-every): this step's inference weights, as best.safetensors holds them,
        kept for later soups or comparisons while last.safetensors moves on."""
        return self._save_weights(f"step{self.step}.safetensors")

    def _save_weights(self, name: str) -> Path:
        return save_checkpoint(
            self.opts.out / name, self.inference_state(), self.opts.arch, self.config, **self._meta()
        )

    def _write_history(self) -> None:
        from .plot import plot_history

        p = self.opts.out / "history.csv"
        tmp = p.with_name(".history.csv.tmp")
        cols = ["step", "loss", "lr", "seconds", "val_psnr", "val_ssim", "val_gain"]
        cols += sorted({k for h in self.history for k in h if k.startswith("val/")})
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            for h in self.history:
                w.writerow({k: h.get(k) if h.get(k) is not None else "" for k in cols})
        tmp.replace(p)
        try:
            plot_history(self.history, self.opts.out / "curves.png", title=f"{self.opts.arch} ({self.opts.variant})")
        except Exception as e:  # a plot must never stop a run
            log.warning("could not draw curves.png: %s", e)
