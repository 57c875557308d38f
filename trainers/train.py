"""Training: AdamW, cosine schedule with warm-up, EMA, checkpoints that resume exactly.

A run is a folder holding ``last.safetensors`` (weights plus everything
needed to continue: optimiser moments, EMA, step, RNG state, under keys
starting with ``_train/`` that inference ignores), ``best.safetensors`` (the
weights with the best validation PSNR), ``history.csv``, ``curves.png`` and
``run.json``. Batches depend only on (seed, step, rank), so a resumed run
sees exactly the batches the uninterrupted run would have.

Multi-GPU / multi-node: start with ``torchrun``; each process trains on its
shard (DistributedDataParallel averages gradients), rank 0 logs, validates
and writes checkpoints.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.nn as nn

from deblurcli.checkpoints import read_checkpoint, save_checkpoint
from deblurcli.errors import CheckpointError, DeblurError
from deblurcli.models import config_to_json, create_model, get_spec
from deblurcli.runtime import cpu_has_native_bf16

from .data import BatchSource, DataError, Pair, PairLoader, find_pairs, split_by_group
from .grow import GrowError, grow
from .losses import CombinedLoss
from .validation import ValResult, ValSet, set_names, validate_sets

log = logging.getLogger("deblurcli.train")
TRAIN_PREFIX = "_train/"


@dataclass(frozen=True)
class Recipe:
    """Per-architecture defaults, from each model's paper or the origin study."""

    loss: str
    lr: float
    patch: int = 256
    batch: int = 4
    weight_decay: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    warmup: int = 200
    freeze_steps: int = 0


RECIPES = {
    # NAFNet GoPro: PSNR loss, AdamW lr 1e-3, betas (0.9, 0.9), wd 1e-3, patch 256 (Chen et al. 2022)
    "nafnet": Recipe(loss="psnr", lr=1e-3, weight_decay=1e-3, betas=(0.9, 0.9)),
    # Uformer: Charbonnier, AdamW lr 2e-4, wd 0.02 (Wang et al. 2022)
    "uptimus": Recipe(loss="charbonnier", lr=2e-4, weight_decay=0.02),
    # the study's residual U-Net: MAE + (1 - SSIM)
    "resunet": Recipe(loss="mae+ssim", lr=1e-3),
    # transfer U-Nets: a low rate, the ImageNet backbone frozen while the decoder settles
    "efficientnet_b4": Recipe(loss="mae+ssim", lr=2e-4, freeze_steps=1000),
    "vgg19": Recipe(loss="mae+ssim", lr=2e-4, freeze_steps=1000),
}


@dataclass
class TrainOptions:
    arch: str
    data: list[Path]
    out: Path
    variant: str | None = None
    val: list[Path] = field(default_factory=list)
    val_fraction: float = 0.1
    val_max: int = 10
    steps: int = 10000
    batch: int | None = None
    patch: int | None = None
    resize: int | None = None
    lr: float | None = None
    min_lr: float = 1e-7
    weight_decay: float | None = None
    loss: str | None = None
    warmup: int | None = None
    clip: float = 0.5
    ema: float = 0.0
    seed: int = 0
    save_every: int = 500
    val_every: int = 500
    resume: bool = False
    init: Path | None = None
    freeze_steps: int | None = None
    backbone_weights: Path | None = None
    device: str = "auto"
    threads: int | None = None
    amp: bool = True
    channels_last: bool = True
    time_limit: float | None = None  # seconds of wall-clock for this invocation
    blur_dir: str = "blur"
    log_every: int = 50
    quiet: bool = False

    def resolved(self) -> TrainOptions:
        r = RECIPES[self.arch]
        return replace(
            self,
            variant=self.variant or get_spec(self.arch).default_variant,
            batch=self.batch or r.batch,
            patch=self.patch if self.patch is not None else r.patch,
            lr=self.lr or r.lr,
            weight_decay=r.weight_decay if self.weight_decay is None else self.weight_decay,
            loss=self.loss or r.loss,
            warmup=r.warmup if self.warmup is None else self.warmup,
            freeze_steps=r.freeze_steps if self.freeze_steps is None else self.freeze_steps,
        )

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        return {
            k: (str(v) if isinstance(v, Path) else [str(x) for x in v] if isinstance(v, list) else v)
            for k, v in d.items()
        }


def amp_dtype(device: torch.device, enabled: bool) -> torch.dtype | None:
    """Mixed precision for training: bf16 on CUDA GPUs and on CPUs with native bf16 (AVX512-BF16 or AMX),
    fp16 (with a gradient scaler) on older GPUs, none elsewhere."""
    if not enabled:
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return None


def parse_duration(text: str) -> float:
    """``"2h"``, ``"90m"``, ``"1h30m"``, ``"45s"`` or plain seconds -> seconds."""
    import re

    t = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", t):
        return float(t)
    m = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?", t)
    if not t or not m or not any(m.groups()):
        raise DeblurError(f"time limit {text!r}: expected a duration like 2h, 90m, 1h30m or 45s")
    h, mi, se = (float(g) if g else 0.0 for g in m.groups())
    return h * 3600 + mi * 60 + se


def lr_at(step: int, base: float, total: int, warmup: int, floor: float) -> float:
    """Linear warm-up to ``base``, then a cosine decay to ``floor`` at ``total``."""
    if warmup and step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return floor + 0.5 * (base - floor) * (1 + math.cos(math.pi * min(1.0, t)))


class EMA:
    """Exponential moving average of parameters (buffers copied).

    The decay warms up as ``min(decay, (1 + n) / (10 + n))`` after ``n``
    updates (TensorFlow's ``num_updates``, timm's ModelEma), so the random
    initial weights are forgotten within the first few hundred steps instead
    of weighing ``decay ** n`` in the average of a short run.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.updates = 0
        self.state = {
            k: v.detach().clone().float() if v.is_floating_point() else v.detach().clone()
            for k, v in model.state_dict().items()
        }

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        self.updates += 1
        for k, v in model.state_dict().items():
            e = self.state[k]
            if v.is_floating_point():
                e.mul_(d).add_(v.detach().float(), alpha=1 - d)
            else:
                e.copy_(v)


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> DistInfo:
    """Join the torchrun process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


# --- checkpoints ------------------------------------------------------------------------------------


def _training_state(opt: torch.optim.Optimizer, raw: dict[str, torch.Tensor] | None) -> tuple[dict, list]:
    tensors: dict[str, torch.Tensor] = {}
    sd = opt.state_dict()
    for idx, st in sd["state"].items():
        for name, v in st.items():
            t = v if isinstance(v, torch.Tensor) else torch.tensor(v)
            tensors[f"{TRAIN_PREFIX}opt/{idx}/{name}"] = t
    if raw is not None:
        for k, v in raw.items():
            tensors[f"{TRAIN_PREFIX}raw/{k}"] = v
    tensors[f"{TRAIN_PREFIX}rng/torch"] = torch.get_rng_state()
    return tensors, sd["param_groups"]


def _restore_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], groups: list) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith(f"{TRAIN_PREFIX}opt/"):
            _, _, idx, name = k.split("/", 3)
            state.setdefault(int(idx), {})[name] = v
    opt.load_state_dict({"state": state, "param_groups": groups})


def read_training_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, str]]:
    """(inference weights, training tensors, metadata) of a ``last.safetensors``."""
    from safetensors import safe_open

    ckpt = read_checkpoint(path)  # validates the file and drops _train/ keys
    with safe_open(str(path), framework="pt") as f:
        extra = {k: f.get_tensor(k) for k in f.keys() if k.startswith(TRAIN_PREFIX)}
    if "train_state" not in ckpt.metadata:
        raise CheckpointError(
            f"{path} has no training state (is it a 'best' or a converted checkpoint?); "
            "resume from the run's last.safetensors"
        )
    return ckpt.state_dict, extra, ckpt.metadata


# --- the run ----------------------------------------------------------------------------------------


class Trainer:
    def __init__(self, opts: TrainOptions, progress: Callable[[dict], None] | None = None) -> None:
        from engines.torch_engine import resolve_device

        self.opts = o = opts.resolved()
        assert o.loss is not None and o.batch is not None and o.lr is not None and o.weight_decay is not None
        if o.arch not in RECIPES:
            raise DeblurError(f"no training recipe for {o.arch!r}")
        self.device = resolve_device(o.device)
        if self.device.type == "cpu" and o.threads:
            torch.set_num_threads(o.threads)
        self.dist = init_distributed(self.device)
        if self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
            torch.cuda.set_device(self.device)
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True
        self.progress = progress
        self.config = get_spec(o.arch).config(o.variant)
        torch.manual_seed(o.seed)
        np.random.seed(o.seed % (2**32))
        self.model = create_model(o.arch, config=self.config)
        self.backbone_source = None
        if hasattr(self.model, "freeze_backbone"):
            from deblurcli.models.transfer import BackboneError, load_backbone

            try:
                self.backbone_source = load_backbone(cast(Any, self.model), o.backbone_weights)
            except BackboneError as e:
                raise DeblurError(str(e)) from None
        if o.init:
            self._load_init(o.init)
        self.model.to(self.device)
        self.loss_fn = CombinedLoss(o.loss, o.backbone_weights).to(self.device)
        self.train_pairs, self.val_pairs = self._pairs()
        self.batches = BatchSource(
            PairLoader(self.train_pairs), o.batch, o.patch or None, o.resize, o.seed, self.dist.rank, self.dist.world
        )
        self.opt = torch.optim.AdamW(
            self.model.parameters(), lr=o.lr, betas=RECIPES[o.arch].betas, weight_decay=o.weight_decay
        )
        self.ema = EMA(self.model, o.ema) if o.ema else None
        self.step = 0
        self.best_psnr = -math.inf  # validation PSNR of best.safetensors
        self.best_gain = -math.inf  # its mean PSNR gain over the validation sets: what 'best' means
        self.history: list[dict[str, Any]] = []
        self.amp_dtype = amp_dtype(self.device, o.amp)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        if o.channels_last:
            self.model.to(memory_format=torch.channels_last)
        o.out.mkdir(parents=True, exist_ok=True)
        if o.resume:
            self._resume()
        self.net: nn.Module = self.model
        if self.dist.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            self.net = DDP(
                self.model,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=bool(o.freeze_steps),
            )

    # -- setup ------------------------------------------------------------------------------------
    def _pairs(self) -> tuple[list[Pair], list[Pair]]:
        o = self.opts
        pairs: list[Pair] = []
        for d in o.data:
            pairs += find_pairs(d, o.blur_dir)
        if o.val:
            self.val_sets = [ValSet(n, find_pairs(d, o.blur_dir)) for n, d in zip(set_names(o.val), o.val)]
            roots = {Path(d).resolve() for d in o.val}
            overlap = [p for p in pairs if p.blur is not None and any(r in p.blur.resolve().parents for r in roots)]
            if overlap:
                raise DataError(
                    f"validation data {o.val[0]} is also under the training data ({overlap[0].name}); keep them apart"
                )
            return pairs, [p for s in self.val_sets for p in s.pairs]
        train, val = split_by_group(pairs, o.val_fraction, o.seed)
        self.val_sets = [ValSet("split", val)] if val else []
        if not val and o.val_fraction > 0 and self.dist.main:
            log.warning("one sequence only: no validation split (pass --val DIR); 'best' follows the training loss")
        return train, val

    def _load_init(self, path: Path) -> None:
        from deblurcli.checkpoints import build_model

        ckpt = read_checkpoint(path)
        m, name, vname, cfg = build_model(ckpt, self.opts.arch)
        if cfg == self.config:
            self.model.load_state_dict(m.state_dict())
            return
        try:
            g = grow(self.model, m)
        except GrowError as e:
            raise CheckpointError(
                f"--init {path.name} is {name} ({vname}), not the {self.opts.variant} variant: {e}"
            ) from None
        if self.dist.main:
            kept = (
                "output kept exactly" if g.preserved else f"output changed (max {g.max_abs_diff:.3g}): a partial start"
            )
            log.info(
                "grew %s (%s) into %s: %d tensors copied, %d new; %s",
                path.name,
                vname,
                self.opts.variant,
                g.copied,
                g.fresh,
                kept,
            )

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
        for s in self.val_sets:  # the blurry inputs' scores, measured once per run
            s.input_psnr, s.input_ssim = state.get("val_inputs", {}).get(s.name, (None, None))
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
            "backbone": self.backbone_source,
            "val_psnr": f"{last_val['val_psnr']:.4f}" if last_val else None,
            "val_ssim": f"{last_val['val_ssim']:.4f}" if last_val else None,
            "val_gain": f"{last_val['val_gain']:.4f}" if last_val and last_val.get("val_gain") is not None else None,
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
            "val_inputs": {s.name: (s.input_psnr, s.input_ssim) for s in self.val_sets if s.input_psnr is not None},
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
        return save_checkpoint(
            self.opts.out / "best.safetensors", self.inference_state(), self.opts.arch, self.config, **self._meta()
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

    # -- validation -------------------------------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> ValResult | None:
        """Every validation set, scored with the inference weights (EMA when on) in fp32."""
        if not self.val_sets:
            return None
        model = create_model(self.opts.arch, config=self.config)
        model.load_state_dict(self.inference_state())
        model.to(self.device).eval()
        res = validate_sets(model, self.config, self.val_sets, self.device, self.opts.val_max)
        if self.dist.main:
            log.info("step %d validation: %s", self.step, res.describe())
        return res

    def _keep_if_best(self, v: ValResult) -> None:
        if v.gain > self.best_gain:
            self.best_gain, self.best_psnr = v.gain, v.psnr
            self.save_best()

    # -- the loop ---------------------------------------------------------------------------------
    def train_step(self) -> float:
        o = self.opts
        assert o.lr is not None and o.warmup is not None and o.freeze_steps is not None
        lr = lr_at(self.step, o.lr, o.steps, o.warmup, o.min_lr)
        for g in self.opt.param_groups:
            g["lr"] = lr
        if hasattr(self.model, "freeze_backbone"):
            frozen = self.step < o.freeze_steps
            if frozen != getattr(self.model, "backbone_frozen", False):
                getattr(self.model, "freeze_backbone")(frozen)  # noqa: B009
        self.net.train()
        if hasattr(self.model, "freeze_backbone"):
            self.model.train()
        blur, sharp = self.batches.get(self.step)
        blur, sharp = blur.to(self.device, non_blocking=True), sharp.to(self.device, non_blocking=True)
        if o.channels_last:
            blur = blur.contiguous(memory_format=torch.channels_last)
        with torch.autocast(
            self.device.type, dtype=self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None
        ):
            pred = self.net(blur)
        loss = self.loss_fn(pred.float(), sharp)
        if not torch.isfinite(loss):
            raise DeblurError(f"the loss became {loss.item()} at step {self.step}; lower --lr or --clip")
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if o.clip:
            self.scaler.unscale_(self.opt)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), o.clip)
        self.scaler.step(self.opt)
        self.scaler.update()
        if self.ema is not None:
            self.ema.update(self.model)
        self.step += 1
        self.last_lr = lr
        return float(loss.item())

    def validate_start(self) -> None:
        """Score the --init weights as step 0, so a fine-tune's best.safetensors is never worse than its start."""
        v = self.validate()
        if v is None:
            return
        self.history.append({"step": 0, "loss": None, "lr": None, "seconds": 0.0, **v.columns()})
        self._keep_if_best(v)
        log.info("starting point %s: validation %s", self.opts.init, v.describe())

    def run(self) -> dict[str, Any]:
        o = self.opts
        t0 = time.perf_counter()
        start = self.step
        interrupted = timed_out = False
        if self.dist.main and start == 0 and o.init and not self.history:
            self.validate_start()
        try:
            while self.step < o.steps:
                loss = self.train_step()
                row: dict[str, Any] = {
                    "step": self.step,
                    "loss": loss,
                    "lr": self.last_lr,
                    "seconds": time.perf_counter() - t0,
                    "val_psnr": None,
                    "val_ssim": None,
                }
                timed_out = o.time_limit is not None and time.perf_counter() - t0 >= o.time_limit
                done = self.step >= o.steps or timed_out
                v = None
                if self.dist.main and (self.step % o.val_every == 0 or self.step >= o.steps):
                    v = self.validate()
                    if v:
                        row.update(v.columns())
                if self.dist.main:
                    self.history.append(row)
                    if v:
                        self._keep_if_best(v)
                    if self.step % o.save_every == 0 or done:
                        self.save_last()
                        if not self.val_pairs:
                            self.save_best()
                    if self.progress:
                        self.progress({**row, "start": start, "total": o.steps})
                if timed_out:
                    break
        except KeyboardInterrupt:
            interrupted = True
            if self.dist.main:
                self.save_last()
        finally:
            if self.dist.world > 1:
                import torch.distributed as dist

                if dist.is_initialized():
                    dist.destroy_process_group()
        return {
            "steps": self.step,
            "interrupted": interrupted,
            "timed_out": timed_out and self.step < o.steps,
            "best_psnr": self.best_psnr,
            "best_gain": self.best_gain,
            "seconds": time.perf_counter() - t0,
            "out": str(o.out),
        }
