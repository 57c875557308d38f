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

import contextlib
import logging
import math
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.nn as nn

from deblurcli.checkpoints import read_checkpoint
from deblurcli.errors import CheckpointError, DeblurError
from deblurcli.models import create_model, get_spec

from .batches import BatchSource
from .data import DataError, Pair, PairLoader, find_pairs, split_by_group
from .grow import GrowError, grow
from .holdout import identical_files, shared_kernels
from .losses import CombinedLoss
from .options import RECIPES, Recipe, TrainOptions, amp_dtype, lr_at, parse_duration  # noqa: F401 (the API)
from .run_files import RunFiles
from .state import (  # noqa: F401 (the API)
    EMA,
    TRAIN_PREFIX,
    DistInfo,
    _restore_optimizer,
    _training_state,
    init_distributed,
    read_training_checkpoint,
)
from .validation import ValResult, ValSet, set_names, validate_sets

log = logging.getLogger("deblurcli.train")


class Terminated(KeyboardInterrupt):
    """SIGTERM during a run: handled as Ctrl-C is, and the process exits 143 (128 + 15) instead of 130."""


def _raise_interrupt(signum: int, frame: object) -> None:
    raise Terminated


def _term_interrupts() -> Any:
    """Make SIGTERM (``kill PID``) stop a run as Ctrl-C does, with a resumable checkpoint: a run started in the
    background ignores SIGINT, so ``kill`` is how it is stopped. Returns the handler to restore (None off the main
    thread, where handlers cannot be set)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_interrupt)


class Trainer(RunFiles):
    def __init__(self, opts: TrainOptions, progress: Callable[[dict], None] | None = None) -> None:
        from engines.torch_engine import resolve_device

        self.opts = o = opts.resolved()
        assert o.loss is not None and o.batch is not None and o.lr is not None and o.weight_decay is not None
        if o.arch not in RECIPES:
            raise DeblurError(f"no training recipe for {o.arch!r}")
        self.device, self.dist = self._setup_device(resolve_device(o.device), o.threads)
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
        self.val_kernels_seen: dict[str, int] = {}  # validation set -> pairs whose kernel training also uses
        self.train_pairs, self.val_pairs = self._pairs()
        # on a GPU the next batches are cut in threads while it trains (on a CPU the cores are the model's)
        self.batches = BatchSource(
            PairLoader(self.train_pairs),
            o.batch,
            o.patch or None,
            o.resize,
            o.seed,
            self.dist.rank,
            self.dist.world,
            prefetch=4 if self.device.type == "cuda" else 0,
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
        if o.compile:
            # the training step only: validation and checkpoints use the eager self.model (whole frames of many
            # sizes would each compile again), and the state dict keeps its plain names
            self.net = cast(nn.Module, torch.compile(self.net))

    # -- setup ------------------------------------------------------------------------------------
    @staticmethod
    def _setup_device(device: torch.device, threads: int | None) -> tuple[torch.device, DistInfo]:
        """CPU threads, or this process's GPU under torchrun (deterministic cuDNN); joins the process group."""
        if device.type == "cpu" and threads:
            torch.set_num_threads(threads)
        dist = init_distributed(device)
        if device.type == "cuda":
            device = torch.device("cuda", dist.local_rank)
            torch.cuda.set_device(device)
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True
        return device, dist

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
            val_pairs = [p for s in self.val_sets for p in s.pairs]
            self._check_holdout(pairs, val_pairs)
            return pairs, val_pairs
        train, val = split_by_group(pairs, o.val_fraction, o.seed)
        self.val_sets = [ValSet("split", val)] if val else []
        if not val and o.val_fraction > 0 and self.dist.main:
            log.warning("one sequence only: no validation split (pass --val DIR); 'best' follows the training loss")
        return train, val

    def _check_holdout(self, train: list[Pair], val: list[Pair]) -> None:
        """Copies of validation images in the training data stop the run; validation pairs blurred by a measured
        kernel that also blurs training pairs are reported (and recorded in the checkpoints)."""
        same = identical_files(train, val)
        if same:
            v, t = same[0]
            raise DataError(
                f"{len(same)} validation file(s) are also training data, e.g. {v} is identical to {t}; keep them apart"
            )
        for vs, d in zip(self.val_sets, self.opts.val):
            hits = shared_kernels(self.opts.data, d)
            if hits:
                self.val_kernels_seen[vs.name] = len(hits)
                if self.dist.main:
                    names = sorted({f"{v.source[5:]} = {t[5:]}" for v, t in hits})
                    log.warning(
                        "validation set %s: %d of %d pairs are blurred by kernels the training data also uses (%s)",
                        vs.name, len(hits), len(vs.pairs), ", ".join(names),
                    )  # fmt: skip

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
        if res.changed:  # gains against another baseline do not rank against these: 'best' starts again
            self.best_gain = self.best_psnr = -math.inf
            if self.dist.main:
                log.warning(
                    "validation changed since the last leg: %s; best.safetensors is chosen again from here",
                    ", ".join(res.changed),
                )
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
        self.opt.zero_grad(set_to_none=True)
        # with --accum N the step's gradient is the mean over N batches, numbered step * N + i, so a resumed run
        # sees exactly the batches an uninterrupted one would; DDP synchronises gradients on the last one only
        total = torch.zeros((), device=self.device)
        for i in range(o.accum):
            sync = i == o.accum - 1 or self.dist.world == 1
            with contextlib.nullcontext() if sync else cast(Any, self.net).no_sync():
                loss = self._forward(self.step * o.accum + i) / o.accum
                self.scaler.scale(loss).backward()
            total += loss.detach()
        if o.clip:
            self.scaler.unscale_(self.opt)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), o.clip)
        self.scaler.step(self.opt)
        self.scaler.update()
        # the step's one wait for the device, after the backward and the update are queued (a check before the
        # backward stalled a GPU between the two); a bad loss still stops the run at this step, before the EMA
        # takes the weights in and before anything is saved
        value = float(total.item())
        if not math.isfinite(value):
            raise DeblurError(f"the loss became {value} at step {self.step}; lower --lr or --clip")
        if self.ema is not None:
            self.ema.update(self.model)
        self.step += 1
        self.last_lr = lr
        return value

    def _forward(self, index: int) -> torch.Tensor:
        """The loss on batch ``index`` (not yet divided by --accum)."""
        o = self.opts
        blur, sharp = self.batches.get(index)
        blur, sharp = blur.to(self.device, non_blocking=True), sharp.to(self.device, non_blocking=True)
        if o.channels_last:
            blur = blur.contiguous(memory_format=torch.channels_last)
        with torch.autocast(
            self.device.type, dtype=self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None
        ):
            pred = self.net(blur)
        return cast(torch.Tensor, self.loss_fn(pred.float(), sharp))

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
        interrupted: bool | int = False
        timed_out = False
        if self.dist.main and start == 0 and o.init and not self.history:
            self.validate_start()
        previous = _term_interrupts()
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
                    if o.keep_every and self.step % o.keep_every == 0:
                        self.save_snapshot()
                    if self.progress:
                        self.progress({**row, "start": start, "total": o.steps})
                if timed_out:
                    break
        except KeyboardInterrupt as e:
            interrupted = 143 if isinstance(e, Terminated) else 130
            if self.dist.main:
                self.save_last()
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            self.batches.close()
            if self.dist.world > 1:
                import torch.distributed as dist

                if dist.is_initialized():
                    dist.destroy_process_group()
        return {
            "steps": self.step,
            "interrupted": interrupted,  # False, or the exit status it calls for (130 Ctrl-C, 143 SIGTERM)
            "timed_out": timed_out and self.step < o.steps,
            "best_psnr": self.best_psnr,
            "best_gain": self.best_gain,
            "seconds": time.perf_counter() - t0,
            "out": str(o.out),
        }
